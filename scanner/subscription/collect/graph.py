"""Microsoft Graph through msgraph-sdk (imported here, lazily: only a scan that needs identity
data pays for it). Collections are read page by page following `@odata.nextLink` at the
largest page size Graph allows; tenant-wide reports replace per-user calls (MFA registration
comes from the registration-details report, never one call per user). The SDK's retry
handler honours Retry-After on 429/503/504."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from typing import Any
from urllib.parse import urlsplit

from scanner.subscription.collect.arm import RequestCounter
from scanner.subscription.collect.credentials import AsyncCredential
from scanner.subscription.collect.errors import (
    CredentialError,
    SectionUnavailableError,
    ServiceFailureError,
)
from scanner.subscription.config import ScanConfig

log = logging.getLogger(__name__)

GRAPH = "Microsoft Graph"
USER_FIELDS = [
    "id",
    "userPrincipalName",
    "displayName",
    "userType",
    "accountEnabled",
    "createdDateTime",
]
_RETRYABLE = {429, 500, 502, 503, 504}


def user_record(user: dict[str, Any]) -> dict[str, Any]:
    activity = user.get("signInActivity") or {}
    return {
        "id": user.get("id"),
        "userPrincipalName": user.get("userPrincipalName"),
        "displayName": user.get("displayName"),
        "userType": user.get("userType"),
        "accountEnabled": user.get("accountEnabled"),
        "createdDateTime": user.get("createdDateTime"),
        # Sign-in attempts, failed ones included: a password spray against a dormant account
        # moves these forward although nobody got in.
        "lastSignInDateTime": activity.get("lastSignInDateTime"),
        "lastNonInteractiveSignInDateTime": activity.get("lastNonInteractiveSignInDateTime"),
        # The last sign-in that succeeded (interactive or not): what shows the account is used.
        "lastSuccessfulSignInDateTime": activity.get("lastSuccessfulSignInDateTime"),
    }


def registration_record(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": detail.get("id"),
        "userPrincipalName": detail.get("userPrincipalName"),
        "userType": detail.get("userType"),
        "isAdmin": detail.get("isAdmin"),
        "isMfaRegistered": detail.get("isMfaRegistered"),
        "isMfaCapable": detail.get("isMfaCapable"),
    }


# The lists of a Conditional Access policy's conditions that the rules read, by where they sit.
USER_CONDITIONS = (
    "includeUsers",
    "excludeUsers",
    "includeRoles",
    "includeGroups",
    "excludeGroups",
    "excludeRoles",
)
APP_CONDITIONS = ("includeApplications", "excludeApplications", "includeUserActions")
RISK_CONDITIONS = ("clientAppTypes", "signInRiskLevels", "userRiskLevels")


def _lists(holder: dict[str, Any], names: tuple[str, ...]) -> dict[str, list[Any]]:
    return {name: list(holder.get(name) or []) for name in names}


def policy_record(policy: dict[str, Any]) -> dict[str, Any]:
    conditions = policy.get("conditions") or {}
    users = conditions.get("users") or {}
    apps = conditions.get("applications") or {}
    grant = policy.get("grantControls") or {}
    return {
        "id": policy.get("id"),
        "displayName": policy.get("displayName"),
        "state": policy.get("state"),
        **_lists(users, USER_CONDITIONS),
        **_lists(apps, APP_CONDITIONS),
        **_lists(conditions, RISK_CONDITIONS),
        "transferMethods": str(
            (conditions.get("authenticationFlows") or {}).get("transferMethods") or ""
        ),
        "builtInControls": list(grant.get("builtInControls") or []),
        "grantOperator": grant.get("operator"),
        "authenticationStrength": bool(grant.get("authenticationStrength")),
    }


def _fields(objects: list[Any], *names: str) -> list[dict[str, Any]]:
    """The named fields of each object of a Graph list (what the rules read, nothing more)."""
    return [{n: o.get(n) for n in names} for o in objects if isinstance(o, dict)]


class GraphCollector:
    """Identity data of the tenant the credential belongs to."""

    def __init__(self, config: ScanConfig, credential: Any, counter: RequestCounter) -> None:
        import httpx
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from kiota_http.middleware.options import RetryHandlerOption
        from msgraph.graph_request_adapter import GraphRequestAdapter
        from msgraph.graph_request_adapter import options as graph_options
        from msgraph.graph_service_client import GraphServiceClient
        from msgraph_core import GraphClientFactory

        self.config = config
        self.counter = counter
        self.semaphore = asyncio.Semaphore(config.concurrency)
        origin = config.origin(config.graph_endpoint)
        host = (urlsplit(origin).hostname or "").lower()
        auth = AzureIdentityAuthenticationProvider(
            AsyncCredential(credential),
            scopes=[config.graph_scope],
            allowed_hosts=[host],
            is_cae_enabled=False,
        )
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_s, connect=min(config.timeout_s, 30.0)),
            http2=True,
        )
        http.base_url = httpx.URL(f"{origin}/v1.0")
        retry = RetryHandlerOption(
            delay=config.retry_backoff_s, max_retries=config.retries, should_retry=True
        )
        options = {**graph_options, RetryHandlerOption.get_key(): retry}
        http = GraphClientFactory.create_with_default_middleware(client=http, options=options)
        self.http = http
        self.adapter = GraphRequestAdapter(auth, client=http)
        self.adapter.base_url = f"{origin}/v1.0"  # httpx adds a trailing slash to the client's
        self.client = GraphServiceClient(request_adapter=self.adapter)
        with warnings.catch_warnings():
            # The SDK's request builders warn about their own deprecated classes on import.
            warnings.simplefilter("ignore", DeprecationWarning)
            for builder in (
                "users",
                "reports.authentication_methods.user_registration_details",
                "directory_roles",
                "role_management.directory.role_assignments",
                "policies.identity_security_defaults_enforcement_policy",
                "identity.conditional_access.policies",
                "identity.conditional_access.named_locations",
                "policies.authorization_policy",
            ):
                target: Any = self.client
                for step in builder.split("."):
                    target = getattr(target, step)

    async def close(self) -> None:
        await self.http.aclose()

    async def _get(self, operation: str, info: Any) -> dict[str, Any]:
        """Send one request built by an SDK request builder through the SDK's adapter
        (authentication, retry, redirect middleware) and return the JSON body. The body is
        read as JSON rather than as SDK models: building model objects for thousands of
        users costs far more than the request (and the first one imports ~1,300 model
        modules)."""
        import httpx
        from kiota_abstractions.api_error import APIError
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        async with self.semaphore:
            self.counter.add(GRAPH)
            try:
                raw = await self.adapter.send_primitive_async(info, "bytes", {"XXX": ODataError})
            except APIError as exc:
                status = exc.response_status_code
                detail = str(getattr(getattr(exc, "error", None), "message", None) or exc)
                if status in _RETRYABLE or status is None:
                    raise ServiceFailureError(
                        GRAPH, operation, status, detail, self.config.retries + 1
                    ) from exc
                raise SectionUnavailableError(GRAPH, operation, status, detail) from exc
            except httpx.HTTPError as exc:
                raise ServiceFailureError(GRAPH, operation, None, repr(exc)) from exc
            except Exception as exc:
                # azure-identity raises ClientAuthenticationError when no token can be had.
                from azure.core.exceptions import ClientAuthenticationError

                if isinstance(exc, ClientAuthenticationError):
                    raise CredentialError(GRAPH, str(exc.message or exc)) from exc
                raise
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ServiceFailureError(GRAPH, operation, 200, "the answer is not a JSON object")
        return body

    async def _all_pages(self, operation: str, builder: Any, config: Any = None) -> list[Any]:
        """Every item of a collection, following `@odata.nextLink`."""
        items: list[Any] = []
        body = await self._get(operation, builder.to_get_request_information(config))
        while True:
            items.extend(body.get("value") or [])
            link = body.get("@odata.nextLink")
            if not link:
                return items
            following = builder.with_url(link).to_get_request_information()
            body = await self._get(operation, following)

    async def users(self) -> dict[str, Any]:
        """All users; with sign-in activity when the tenant's licence and the identity's
        permissions allow it (AuditLog.Read.All + Entra ID P1), else without."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.users_request_builder import UsersRequestBuilder

        def configured(fields: list[str]) -> Any:
            params = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                select=fields, top=self.config.graph_page_size
            )
            return RequestConfiguration(query_parameters=params)

        builder = self.client.users
        try:
            users = await self._all_pages(
                "GET /users", builder, configured([*USER_FIELDS, "signInActivity"])
            )
            available, reason = True, None
        except SectionUnavailableError as exc:
            log.warning("users with sign-in activity unavailable (%s); reading without", exc)
            users = await self._all_pages("GET /users", builder, configured(USER_FIELDS))
            available, reason = False, exc.reason
        return {
            "items": [user_record(u) for u in users if isinstance(u, dict)],
            "signInActivityAvailable": available,
            "signInActivityError": reason,
        }

    async def registration_details(self) -> list[dict[str, Any]]:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.reports.authentication_methods.user_registration_details import (
            user_registration_details_request_builder as module,
        )

        builder = self.client.reports.authentication_methods.user_registration_details
        query = module.UserRegistrationDetailsRequestBuilder
        params = query.UserRegistrationDetailsRequestBuilderGetQueryParameters(
            top=self.config.graph_page_size
        )
        details = await self._all_pages(
            "GET /reports/authenticationMethods/userRegistrationDetails",
            builder,
            RequestConfiguration(query_parameters=params),
        )
        return [registration_record(d) for d in details if isinstance(d, dict)]

    async def directory_roles(self) -> list[dict[str, Any]]:
        roles = await self._all_pages("GET /directoryRoles", self.client.directory_roles)
        return _fields(roles, "id", "displayName", "roleTemplateId")

    async def role_assignments(self) -> list[dict[str, Any]]:
        assignments = await self._all_pages(
            "GET /roleManagement/directory/roleAssignments",
            self.client.role_management.directory.role_assignments,
        )
        return _fields(assignments, "id", "principalId", "roleDefinitionId", "directoryScopeId")

    async def security_defaults(self) -> dict[str, Any]:
        builder = self.client.policies.identity_security_defaults_enforcement_policy
        policy = await self._get(
            "GET /policies/identitySecurityDefaultsEnforcementPolicy",
            builder.to_get_request_information(),
        )
        return {"isEnabled": bool(policy.get("isEnabled", False))}

    async def conditional_access(self) -> list[dict[str, Any]]:
        policies = await self._all_pages(
            "GET /identity/conditionalAccess/policies",
            self.client.identity.conditional_access.policies,
        )
        return [policy_record(p) for p in policies if isinstance(p, dict)]

    async def named_locations(self) -> list[dict[str, Any]]:
        locations = await self._all_pages(
            "GET /identity/conditionalAccess/namedLocations",
            self.client.identity.conditional_access.named_locations,
        )
        return [
            {
                "id": n.get("id"),
                "displayName": n.get("displayName"),
                "kind": str(n.get("@odata.type") or "").rsplit(".", 1)[-1],
                "isTrusted": n.get("isTrusted"),
                "countriesAndRegions": list(n.get("countriesAndRegions") or []),
            }
            for n in locations
            if isinstance(n, dict)
        ]

    async def authorization_policy(self) -> dict[str, Any]:
        """The tenant's authorization policy as Graph returns it (one object)."""
        builder = self.client.policies.authorization_policy
        policy = await self._get(
            "GET /policies/authorizationPolicy", builder.to_get_request_information()
        )
        policy.pop("@odata.context", None)
        return policy
