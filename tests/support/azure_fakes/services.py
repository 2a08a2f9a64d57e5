"""The fake services: Microsoft Entra ID (OpenID configuration, instance discovery, the v2
token endpoint), ARM + Resource Graph, Microsoft Graph and OSV, serving a `Tenant`.

They speak just enough of each protocol for the real SDK clients: bearer tokens issued by
the fake authority with an audience and an expiry (ARM and Graph reject others with 401),
`$skipToken` paging of Resource Graph, `@odata.nextLink` paging of Graph, `next_page_token`
of OSV's querybatch. Resource Graph understands the queries the scanner sends (table, type
filters, custom-role filter, distinct locations, project) and answers 400 to anything else.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote

from tests.support.azure_fakes.dataset import Tenant
from tests.support.azure_fakes.server import Reply, Request, Service, error


class Tokens:
    """Access tokens the fake authority issued: token -> (audience, expiry)."""

    def __init__(self, lifetime_s: float) -> None:
        self.lifetime_s = lifetime_s
        self.lock = threading.Lock()
        self.issued: dict[str, tuple[str, float]] = {}
        self.used: dict[str, set[str]] = {}  # audience -> tokens seen on requests

    def issue(self, audience: str) -> tuple[str, int]:
        token = "fake-at-" + secrets.token_hex(16)
        with self.lock:
            self.issued[token] = (audience, time.time() + self.lifetime_s)
        return token, int(self.lifetime_s)

    def check(self, request: Request, audience: str) -> Reply | None:
        token = request.bearer
        with self.lock:
            entry = self.issued.get(token or "")
            if entry is not None:
                self.used.setdefault(audience, set()).add(str(token))
        if token is None or entry is None:
            return error(401, "InvalidAuthenticationToken", "no valid bearer token")
        if entry[0].rstrip("/") != audience.rstrip("/"):
            return error(401, "InvalidAuthenticationTokenAudience", f"token is for {entry[0]}")
        if entry[1] < time.time():
            return error(401, "ExpiredAuthenticationToken", "the access token has expired")
        return None


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    return int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])


class Answers:
    """The whole answer of a paged query, computed for its first page and kept for the pages
    that follow (as a real service serves a page for the same cost whatever its number;
    computing the whole answer again for every page made the fake's own work grow with the
    square of the tenant's size)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[Any, list[dict[str, Any]]] = {}

    def of(
        self, key: Any, first_page: bool, compute: Callable[[], list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        with self._lock:
            kept = None if first_page else self._kept.get(key)
        if kept is None:
            kept = compute()
            with self._lock:
                self._kept[key] = kept
        return kept


def openid_configuration(base_url: str, tenant: str) -> dict[str, Any]:
    """A tenant's v2.0 OpenID configuration document (the fields clients read)."""
    prefix = f"{base_url}/{tenant}"
    return {
        "issuer": f"{prefix}/v2.0",
        "authorization_endpoint": f"{prefix}/oauth2/v2.0/authorize",
        "token_endpoint": f"{prefix}/oauth2/v2.0/token",
        "device_authorization_endpoint": f"{prefix}/oauth2/v2.0/devicecode",
        "jwks_uri": f"{prefix}/discovery/v2.0/keys",
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "token"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "tenant_region_scope": "EU",
    }


class TokenService(Service):
    name = "token"

    def __init__(self, tenant: Tenant, tokens: Tokens) -> None:
        self.tenant = tenant
        self.tokens = tokens

    def handle(self, request: Request) -> Reply:
        tenant = self.tenant.tenant_id
        base = request.base_url
        if request.path.endswith("/.well-known/openid-configuration"):
            return Reply(200, openid_configuration(base, tenant))
        if request.path.endswith("/discovery/instance"):
            return Reply(
                200,
                {
                    "tenant_discovery_endpoint": (
                        f"{base}/{tenant}/v2.0/.well-known/openid-configuration"
                    ),
                    "api-version": "1.1",
                    "metadata": [],
                },
            )
        if request.method == "POST" and request.path == f"/{tenant}/oauth2/v2.0/token":
            form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
            if form.get("grant_type") != "client_credentials":
                return Reply(400, {"error": "unsupported_grant_type"})
            if (
                form.get("client_id") != self.tenant.client_id
                or form.get("client_secret") != self.tenant.client_secret
            ):
                return Reply(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: invalid secret",
                    },
                )
            scope = next((s for s in form.get("scope", "").split() if s.endswith("/.default")), "")
            if not scope:
                return Reply(400, {"error": "invalid_scope"})
            token, lifetime = self.tokens.issue(scope.removesuffix("/.default"))
            return Reply(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": lifetime,
                    "ext_expires_in": lifetime,
                    "access_token": token,
                },
            )
        return error(404, "NotFound", f"no route {request.method} {request.path}")


class ArmService(Service):
    """ARM and Resource Graph on one endpoint (as management.azure.com serves both)."""

    name = "arm"
    TABLES = ("resources", "appserviceresources", "securityresources", "authorizationresources")

    def __init__(self, tenant: Tenant, tokens: Tokens) -> None:
        self.tenant = tenant
        self.tokens = tokens
        self.answers = Answers()

    def label(self, request: Request) -> str:
        if request.path.lower().startswith("/providers/microsoft.resourcegraph"):
            return "resourceGraph"
        return "arm"

    def handle(self, request: Request) -> Reply:
        denied = self.tokens.check(request, request.base_url)
        if denied:
            return denied
        if not request.param("api-version"):
            return error(400, "MissingApiVersionParameter", "api-version is required")
        path = request.path.lower()
        if path == "/providers/microsoft.resourcegraph/resources" and request.method == "POST":
            return self.resource_graph(request)
        group = re.fullmatch(
            r"/providers/microsoft\.management/managementgroups/([^/]+)/descendants", path
        )
        if group and request.method == "GET":
            return self.descendants(request, group.group(1))
        match = re.match(r"^/subscriptions/([^/]+)", path)
        if match is None:
            return error(404, "NotFound", f"no route {request.method} {request.path}")
        wanted = match.group(1)
        if wanted in self.tenant.unreadable_subscriptions:
            return error(
                403,
                "AuthorizationFailed",
                f"The client '{self.tenant.client_id}' with object id '{self.tenant.client_id}' "
                "does not have authorization to perform action "
                f"'Microsoft.Resources/subscriptions/providers/read' over scope "
                f"'/subscriptions/{wanted}' or the scope is invalid. If access was recently "
                "granted, please refresh your credentials.",
            )
        t = next((t for t in self.tenant.every_subscription() if t.subscription_id == wanted), None)
        if t is None:
            return error(
                404,
                "SubscriptionNotFound",
                f"The subscription '{wanted}' could not be found.",
            )
        sub = f"/subscriptions/{t.subscription_id}"
        if path == f"{sub}/providers":
            return Reply(
                200,
                {"value": [{"id": f"{sub}/providers/{p['namespace']}", **p} for p in t.providers]},
            )
        if path == f"{sub}/providers/microsoft.insights/diagnosticsettings":
            return Reply(200, {"value": t.diagnostic_settings})
        if request.method == "GET" and path.startswith(f"{sub}/"):
            return self.child(request, path, t)
        return error(404, "NotFound", f"no route {request.method} {request.path}")

    def descendants(self, request: Request, group: str) -> Reply:
        """A management group's descendants (Tenant.management_groups), in pages linked by
        nextLink."""
        entries = next(
            (v for k, v in self.tenant.management_groups.items() if k.lower() == group), None
        )
        if entries is None:
            return error(
                404,
                "NotFound",
                f"'/providers/Microsoft.Management/managementGroups/{group}' not found",
            )
        size = self.tenant.management_group_page_size
        offset = int(request.param("$skiptoken") or 0)
        body: dict[str, Any] = {"value": entries[offset : offset + size], "nextLink": None}
        if offset + size < len(entries):
            body["nextLink"] = (
                f"{request.base_url}{request.path}?api-version="
                f"{quote(str(request.param('api-version')))}&$skiptoken={offset + size}"
            )
        return Reply(200, body)

    def child(self, request: Request, path: str, tenant: Tenant) -> Reply:
        """A resource or list ARM serves beyond Resource Graph (Tenant.arm_children): lists
        in pages linked by nextLink, single resources as they are, anything else 404."""
        api_version = str(request.param("api-version"))
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", api_version):
            return error(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{api_version}' is invalid. The supported versions are "
                "'2023-07-01,2023-05-01,2021-11-01,2021-05-01-preview'.",
            )
        children = tenant.arm_children
        value = children.get(path)
        if value is None:
            parent, _, name = path.rpartition("/")
            listed = children.get(parent)
            if isinstance(listed, list):
                value = next((i for i in listed if str(i.get("name", "")).lower() == name), None)
        if value is None:
            return error(
                404,
                "ResourceNotFound",
                f"The Resource '{request.path}' was not found. For more details please go to "
                "https://aka.ms/ARMResourceNotFoundFix",
            )
        if not isinstance(value, list):
            return Reply(200, value)
        size = tenant.arm_page_size
        offset = int(request.param("$skipToken") or 0)
        body: dict[str, Any] = {"value": value[offset : offset + size]}
        if offset + size < len(value):
            body["nextLink"] = (
                f"{request.base_url}{request.path}?api-version={quote(api_version)}"
                f"&$skipToken={offset + size}"
            )
        return Reply(200, body)

    def rows(self, query: str, subscriptions: list[str]) -> list[dict[str, Any]]:
        table = query.split("|")[0].strip().lower()
        if table not in self.TABLES:
            raise ValueError(f"unknown table {table!r}")
        # Resource Graph answers for the subscriptions the caller can read, leaving out others.
        wanted = {s.lower() for s in subscriptions} - self.tenant.unreadable_subscriptions
        rows = [
            r
            for t in self.tenant.every_subscription()
            for r in getattr(t, table)
            if str(r.get("id", "")).lower().split("/")[2] in wanted
        ]
        types = re.search(r"\btype in~ \(([^)]*)\)", query)
        if types:
            allowed = {t.strip().strip("'").lower() for t in types.group(1).split(",")}
            rows = [r for r in rows if str(r["type"]).lower() in allowed]
        single = re.search(r"(?<![.\w])type =~ '([^']+)'", query)
        if single:
            rows = [r for r in rows if str(r["type"]).lower() == single.group(1).lower()]
        role_type = re.search(r"properties\.type =~ '([^']+)'", query)
        if role_type:
            rows = [
                r
                for r in rows
                if str(r.get("properties", {}).get("type", "")).lower()
                == role_type.group(1).lower()
            ]
        if "summarize" in query:
            if "by location, subscriptionId" in query:
                pairs = {(str(r.get("location", "")), str(r.get("subscriptionId"))) for r in rows}
                rows = [{"location": loc, "subscriptionId": sub} for loc, sub in sorted(pairs)]
            elif "by location" in query:
                locations = sorted({str(r.get("location", "")) for r in rows})
                rows = [{"location": loc} for loc in locations]
            else:
                raise ValueError("only `summarize ... by location[, subscriptionId]` is understood")
        project = re.search(r"\| project ([^|]+)$", query.strip())
        if project:
            columns = [c.strip() for c in project.group(1).split(",")]
            rows = [{c: r.get(c) for c in columns} for r in rows]
        return rows

    def resource_graph(self, request: Request) -> Reply:
        body = request.json() or {}
        options = body.get("options") or {}
        query, subscriptions = str(body.get("query", "")), list(body.get("subscriptions") or [])
        offset = _offset(options.get("$skipToken"))
        try:
            rows = self.answers.of(
                (query, tuple(subscriptions)), offset == 0, lambda: self.rows(query, subscriptions)
            )
        except (ValueError, KeyError, IndexError) as exc:
            return error(400, "BadRequest", f"query not understood by the fake: {exc}")
        top = min(int(options.get("$top") or 100), 1000, self.tenant.resource_graph_page_size)
        page = rows[offset : offset + top]
        reply: dict[str, Any] = {
            "totalRecords": len(rows),
            "count": len(page),
            "data": page,
            "facets": [],
            "resultTruncated": "false",
        }
        if offset + top < len(rows):
            reply["$skipToken"] = _page_token(offset + top)
        return Reply(200, reply)


class GraphService(Service):
    name = "graph"

    def __init__(self, tenant: Tenant, tokens: Tokens) -> None:
        self.tenant = tenant
        self.tokens = tokens
        self.answers = Answers()

    def _page(
        self, request: Request, path: str, items: list[dict[str, Any]], default_top: int = 100
    ) -> Reply:
        top = min(int(request.param("$top") or default_top), 999, self.tenant.graph_page_size)
        offset = int(request.param("$skiptoken") or 0)
        page = items[offset : offset + top]
        body: dict[str, Any] = {
            "@odata.context": f"{request.base_url}/v1.0/$metadata#{path}",
            "value": page,
        }
        if offset + top < len(items):
            params = {k: v[0] for k, v in request.query.items() if k != "$skiptoken"}
            params["$skiptoken"] = str(offset + top)
            query = "&".join(f"{quote(k)}={quote(v, safe=',')}" for k, v in params.items())
            body["@odata.nextLink"] = f"{request.base_url}/v1.0/{path}?{query}"
        return Reply(200, body)

    def handle(self, request: Request) -> Reply:
        denied = self.tokens.check(request, request.base_url)
        if denied:
            return denied
        path = request.path.removeprefix("/v1.0/")
        t = self.tenant
        if path == "users":
            select = [s for s in (request.param("$select") or "").split(",") if s]
            if "signInActivity" in select and not t.sign_in_activity_licensed:
                return error(
                    403,
                    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                    "Neither tenant is B2C or tenant doesn't have premium license",
                )
            users = t.users
            if "signInActivity" in select:
                # Graph returns at most 120 users a page when signInActivity is selected.
                request.query["$top"] = [str(min(int(request.param("$top") or 100), 120))]
            if select:
                users = self.answers.of(
                    tuple(select),
                    not request.param("$skiptoken"),
                    lambda: [{k: u.get(k) for k in ["id", *select]} for u in t.users],
                )
            return self._page(request, "users", users)
        if path == "reports/authenticationMethods/userRegistrationDetails":
            return self._page(request, path, t.registration_details)
        if path == "directoryRoles":
            return self._page(request, path, t.directory_roles, default_top=999)
        if path == "roleManagement/directory/roleAssignments":
            return self._page(request, path, t.role_assignments)
        if path == "policies/identitySecurityDefaultsEnforcementPolicy":
            if t.security_defaults_policy is not None:
                return Reply(200, t.security_defaults_policy)
            return Reply(
                200,
                {
                    "@odata.context": f"{request.base_url}/v1.0/$metadata#policies/"
                    "identitySecurityDefaultsEnforcementPolicy/$entity",
                    "id": "00000000-0000-0000-0000-000000000005",
                    "displayName": "Security Defaults",
                    "isEnabled": t.security_defaults_enabled,
                },
            )
        if path == "identity/conditionalAccess/policies":
            return self._page(request, path, t.conditional_access)
        if path == "identity/conditionalAccess/namedLocations":
            return self._page(request, path, t.named_locations)
        if path == "policies/authorizationPolicy":
            return Reply(200, t.authorization_policy or default_authorization_policy(request))
        return error(404, "Request_ResourceNotFound", f"no route {request.method} {request.path}")


def default_authorization_policy(request: Request) -> dict[str, Any]:
    """What Graph answers for a tenant whose settings were never changed (the shape of the
    published authorizationpolicy-get example; these values are Entra ID's defaults)."""
    return {
        "@odata.context": f"{request.base_url}/v1.0/$metadata#policies/authorizationPolicy/$entity",
        "id": "authorizationPolicy",
        "allowInvitesFrom": "everyone",
        "allowedToSignUpEmailBasedSubscriptions": True,
        "allowedToUseSSPR": True,
        "allowEmailVerifiedUsersToJoinOrganization": True,
        "blockMsolPowerShell": False,
        "displayName": "Authorization Policy",
        "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
        "defaultUserRolePermissions": {
            "allowedToCreateApps": True,
            "allowedToCreateSecurityGroups": True,
            "allowedToCreateTenants": True,
            "allowedToReadOtherUsers": True,
            "permissionGrantPoliciesAssigned": [
                "ManagePermissionGrantsForSelf.microsoft-user-default-legacy"
            ],
        },
    }


class OsvService(Service):
    name = "osv"

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def handle(self, request: Request) -> Reply:
        t = self.tenant
        if request.method == "POST" and request.path == "/v1/querybatch":
            queries = (request.json() or {}).get("queries") or []
            if len(queries) > 1000:
                return Reply(400, {"code": 3, "message": "Too many queries."})
            results = []
            for query in queries:
                package = query.get("package") or {}
                key = (package.get("ecosystem"), package.get("name"), query.get("version"))
                ids = t.osv_affected.get(key, [])  # type: ignore[call-overload]
                offset = int(query.get("page_token") or 0)
                page = ids[offset : offset + t.osv_page_size]
                result: dict[str, Any] = {}
                if page:
                    result["vulns"] = [
                        {"id": i, "modified": t.osv_records[i]["modified"]} for i in page
                    ]
                if offset + t.osv_page_size < len(ids):
                    result["next_page_token"] = str(offset + t.osv_page_size)
                results.append(result)
            return Reply(200, {"results": results})
        match = re.match(r"^/v1/vulns/([A-Za-z0-9._-]+)$", request.path)
        if request.method == "GET" and match:
            record = t.osv_records.get(match.group(1))
            if record is None:
                return Reply(404, {"code": 5, "message": "Bug not found."})
            return Reply(200, record)
        return Reply(404, {"code": 5, "message": "Not found."})
