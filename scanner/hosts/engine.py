"""The host scan engine: plan (connect, list the commands), run (one command), summarize.

- plan opens the scan's SSH connection (through the host's jump hosts, with the host's own
  credentials reference or the service's key), so a host that cannot be reached, or whose key
  or credentials are wrong, fails the scan at once with the failure and the hop named; the
  connection stays in this process's cache for the scan's commands.
- run executes one command of the catalogue on the scan's connection (opening one in this
  process if the plan ran elsewhere) and parses its output. A command that fails, times out
  or prints nothing usable is a soft failure: the scan completes with partial results. A
  connection that broke is opened again once, at once; a server that keeps refusing session
  channels is a transient failure the orchestration retries, never a failed command.
- summarize closes the connection and merges every command's data into the results; a host
  that is not Linux gets a clear `unsupported OS` note.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scanner.engine import (
    ArtifactStore,
    Context,
    Engine,
    ItemResult,
    Plan,
    ProgressCallback,
    ScanTarget,
    Summary,
    WorkItem,
)
from scanner.hosts.commands import CATALOGUE, HostCommand, commands_for
from scanner.hosts.connections import CONNECTIONS, ConnectionCache
from scanner.hosts.credentials import KeyRing, SecretReader
from scanner.hosts.failures import ConnectionLostError, Failure, HostScanError
from scanner.hosts.host_keys import HostKeyPolicy, HostKeyVerifier, KnownHostKeys
from scanner.hosts.ssh import Endpoint, Hop, PrivateKeySource, SshConnection, connect
from scanner.hosts.target import ENGINE_INFO, HostTarget

log = logging.getLogger(__name__)

USERNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]{0,31}$")
PACKAGE_SAMPLE = 20
_STDERR_IN_MESSAGE = 300


@dataclass(frozen=True)
class HostEngineConfig:
    default_username: str = ""
    host_key_policy: HostKeyPolicy = HostKeyPolicy.ACCEPT_NEW
    connect_timeout_s: float = 10.0
    command_timeout_s: float = 30.0


@dataclass(frozen=True)
class _Route:
    """Where a scan connects, who logs in with which key, and through which jump hosts."""

    endpoint: Endpoint
    key: PrivateKeySource
    jumps: tuple[Hop, ...]


class HostScanEngine(Engine):
    """Quick and full scans of Linux hosts over SSH (see the module docstring)."""

    info = ENGINE_INFO

    def __init__(
        self,
        config: HostEngineConfig,
        key: PrivateKeySource | None,
        known_hosts: KnownHostKeys,
        connections: ConnectionCache = CONNECTIONS,
        enrich_packages: PackageEnricher | None = None,
        read_secret: SecretReader | None = None,
    ) -> None:
        self.config = config
        self.keys = KeyRing(key, read_secret)
        self.verifier = HostKeyVerifier(known_hosts, config.host_key_policy)
        self.connections = connections
        self.enrich_packages = enrich_packages

    # -- helpers ---------------------------------------------------------------------------

    def _user(self, *choices: str | None) -> str:
        user = next((c for c in choices if c), None) or self.config.default_username
        if not user:
            raise HostScanError(
                Failure.CONFIGURATION,
                "no SSH username: give `username` or set SSH_DEFAULT_USERNAME",
            )
        if not USERNAME.match(user):
            raise HostScanError(Failure.CONFIGURATION, f"invalid SSH username {user[:40]!r}")
        return user

    def _route(self, target: ScanTarget, username: str | None = None) -> _Route:
        """The target's endpoint, key and jump hosts. A jump host without a username or
        credentials reference of its own uses the target's."""
        try:
            config = HostTarget.model_validate(target.config)
        except ValueError as exc:
            raise HostScanError(
                Failure.CONFIGURATION, f"the host target is not valid: {exc}"
            ) from exc
        user = self._user(username, config.username)
        jumps = tuple(
            Hop(
                Endpoint(jump.hostname, jump.port, self._user(jump.username, user)),
                self.keys.key(
                    jump.credentials_ref or config.credentials_ref,
                    jump.passphrase_ref if jump.credentials_ref else config.passphrase_ref,
                ),
            )
            for jump in config.proxy_jump or []
        )
        return _Route(
            Endpoint(config.hostname, config.port, user),
            self.keys.key(config.credentials_ref, config.passphrase_ref),
            jumps,
        )

    def _connection(self, session: str, route: _Route) -> SshConnection:
        endpoint = route.endpoint

        def open_connection() -> SshConnection:
            connection = connect(
                endpoint,
                route.key,
                self.verifier,
                self.config.connect_timeout_s,
                jumps=route.jumps,
            )
            via = "".join(f" via {hop.endpoint}" for hop in reversed(route.jumps))
            log.info(
                "ssh %s@%s%s: connected (%s, host key %s)",
                endpoint.username,
                endpoint,
                via,
                connection.server_version,
                connection.host_key.fingerprint,
            )
            return connection

        return self.connections.get(session, open_connection)

    # -- the engine protocol -----------------------------------------------------------------

    def plan(self, target: ScanTarget, store: ArtifactStore, progress: ProgressCallback) -> Plan:
        route = self._route(target)
        scan_type = str(target.config.get("scan_type") or "quick")
        commands = commands_for(scan_type)
        progress("Plan", f"connecting to {route.endpoint}")
        session = uuid.uuid4().hex
        connection = self._connection(session, route)
        context: dict[str, Any] = {
            "session": session,
            "username": route.endpoint.username,
            "scanType": scan_type,
            "hostKey": {
                "type": connection.host_key.key_type,
                "fingerprint": connection.host_key.fingerprint,
            },
            "server": connection.server_version[:120],
        }
        if route.jumps:
            context["via"] = [str(hop.endpoint) for hop in route.jumps]
        return Plan(
            items=[WorkItem(item_id=c.id, title=c.title) for c in commands], context=context
        )

    def run(
        self, target: ScanTarget, item: WorkItem, context: Context, store: ArtifactStore
    ) -> ItemResult:
        command = CATALOGUE.get(item.item_id)
        if command is None:
            return _failed(item, Failure.CONFIGURATION, f"unknown command {item.item_id[:40]!r}")
        route = self._route(target, context.get("username"))
        session = str(context.get("session") or uuid.uuid4().hex)
        connection = self._connection(session, route)
        try:
            output = connection.run(command.script, self.config.command_timeout_s)
        except ConnectionLostError as lost:
            # A server may drop the whole connection (Dropbear does when channels race): once
            # more on a fresh one, which starts at the channel limit this one taught us.
            log.info("ssh %s: %s; running %s on a new connection", route.endpoint, lost, command.id)
            connection = self._connection(session, route)
            output = connection.run(command.script, self.config.command_timeout_s)
        if output.timed_out:
            return _failed(
                item,
                Failure.COMMAND_TIMEOUT,
                f"{command.id}: no answer within {self.config.command_timeout_s:g} s",
            )
        # Closed without an exit status (killed by a signal): what it wrote may be cut short,
        # so it is not taken for a fact.
        cut_short = output.exit_status is None and not output.truncated
        value = None if cut_short else _parse(command, output.stdout)
        data: dict[str, Any] = {"exitStatus": output.exit_status}
        if output.truncated:
            data["truncated"] = True
        if output.refusals:
            data["sessionRefusals"] = output.refusals
        if value is not None and command.id == "packages":
            value = _packages(value, store)
        if value is not None:
            data["value"] = value
        stderr = " ".join(output.stderr.split())[:_STDERR_IN_MESSAGE]
        status = "no exit status" if output.exit_status is None else f"exit {output.exit_status}"
        if cut_short:
            status = "closed without an exit status (killed by a signal?)"
        if value is None:
            detail = f"{command.id}: {status}" + (f": {stderr}" if stderr else "")
            if output.exit_status == 0:
                detail = f"{command.id}: no usable output"
            return ItemResult(
                item_id=item.item_id,
                title=item.title,
                status="error",
                error=Failure.COMMAND_FAILED.message(detail),
                data={**data, "failure": Failure.COMMAND_FAILED.code},
            )
        if output.exit_status != 0:
            # Usable output despite a failure status (e.g. df with one unreadable mount).
            data["warning"] = status + (f": {stderr}" if stderr else "")
        return ItemResult(item_id=item.item_id, title=item.title, status="passed", data=data)

    def summarize(
        self, target: ScanTarget, context: Context, results: list[ItemResult], store: ArtifactStore
    ) -> Summary:
        session = context.get("session")
        if session:
            self.connections.close(str(session))
        scan_type = str(context.get("scanType") or target.config.get("scan_type") or "quick")
        by_id = {r.item_id: r for r in results}
        planned = commands_for(scan_type)
        out: dict[str, Any] = {
            "scanType": scan_type,
            "hostname": None,
            "os": None,
            "kernel": None,
            "kernelName": None,
            "architecture": None,
            "uptimeSeconds": None,
        }
        commands: dict[str, str] = {}
        errors: list[dict[str, str]] = []
        for command in planned:
            result = by_id.get(command.id)
            if result is None:
                commands[command.id] = "missing"
                errors.append(
                    {"command": command.id, "code": "missing", "message": "no result recorded"}
                )
                out.setdefault(command.result_key, None)
                continue
            commands[command.id] = result.status
            value = result.data.get("value")
            if command.id == "kernel":
                uname = value if isinstance(value, dict) else {}
                out["kernel"] = uname.get("kernel")
                out["kernelName"] = uname.get("kernelName")
                out["architecture"] = uname.get("architecture")
            else:
                out[command.result_key] = value
            if result.status != "passed":
                errors.append(
                    {
                        "command": command.id,
                        "code": str(result.data.get("failure") or "command_failed"),
                        "message": result.error or result.status,
                    }
                )
        out["hostKey"] = context.get("hostKey")
        out["sshServer"] = context.get("server")
        if context.get("via"):
            out["via"] = context["via"]
        out["commands"] = commands
        out["errors"] = errors
        out["partial"] = bool(errors)
        kernel_name = out.get("kernelName")
        failed = len(errors)
        if isinstance(kernel_name, str) and kernel_name != "Linux":
            release = f" {out['kernel']}" if out.get("kernel") else ""
            out["unsupported"] = True
            out["note"] = Failure.UNSUPPORTED_OS.message(
                f"{kernel_name}{release}; host scans support Linux only, "
                f"so results are partial ({failed} of {len(planned)} commands failed)"
            )
        elif errors:
            out["note"] = (
                f"partial results: {failed} of {len(planned)} commands failed "
                f"({', '.join(e['command'] for e in errors)})"
            )
        counters = {"commandsFailed": failed}
        # Channels the server refused (or closed at once) and the commands took again: how much
        # a server's session limit cost, never a failure.
        refusals = sum(int(r.data.get("sessionRefusals") or 0) for r in results)
        if refusals:
            counters["sessionRefusals"] = refusals
        packages = out.get("packages")
        if isinstance(packages, dict) and isinstance(packages.get("count"), int):
            counters["packagesFound"] = packages["count"]
        if (
            scan_type == "full"
            and isinstance(packages, dict)
            and packages.get("listRef")
            and self.enrich_packages
        ):
            out["vulnerabilities"] = known_vulnerabilities(
                out.get("os"), packages, store, self.enrich_packages
            )
            counters["vulnerablePackages"] = int(out["vulnerabilities"].get("packagesAffected", 0))
        error = None
        if planned and failed == len(planned):
            error = f"every command failed; first: {errors[0]['message']}"
        return Summary(results=out, counters=counters, error=error)


def _failed(item: WorkItem, failure: Failure, detail: str) -> ItemResult:
    return ItemResult(
        item_id=item.item_id,
        title=item.title,
        status="error",
        error=failure.message(detail),
        data={"failure": failure.code},
    )


def _parse(command: HostCommand, stdout: str) -> Any:
    """The parser's value; parsers never raise, but a bug must not lose the scan either."""
    try:
        value = command.parse(stdout)
    except Exception:
        log.exception("parser of %s raised", command.id)
        return None
    if value in (None, [], {}):
        return None
    return value


def _packages(parsed: dict[str, Any], store: ArtifactStore) -> dict[str, Any]:
    """The full list goes to the artifact store; the result keeps count, sample, reference."""
    packages = parsed.get("packages") or []
    if parsed.get("manager") is None:
        return {
            "manager": None,
            "count": 0,
            "sample": [],
            "note": "no package manager found (no dpkg, rpm or apk database)",
        }
    reference = store.put_json("packages.json", packages)
    return {
        "manager": parsed.get("manager"),
        "count": len(packages),
        "sample": packages[:PACKAGE_SAMPLE],
        "listRef": reference,
    }


# -- CVE enrichment of a full scan's packages ---------------------------------------------------

# (ecosystem, name, version) list -> an object with `status` ("ok" | "error" | "disabled"),
# `by_software` ({"ecosystem|name|version": [vulnerability dicts]}) and `error`.
PackageEnricher = Callable[[list[tuple[str, str, str]]], Any]
VULNERABLE_SAMPLE = 50


def osv_ecosystem(os_release: Any) -> str | None:
    """OSV's ecosystem name for a distribution release (os-release ID and VERSION_ID)."""
    if not isinstance(os_release, dict):
        return None
    distro = str(os_release.get("id") or "").lower()
    version = str(os_release.get("versionId") or "")
    if not version:
        return None
    major, _, rest = version.partition(".")
    if distro == "debian":
        return f"Debian:{major}"
    if distro == "ubuntu":
        lts = rest == "04" and major.isdigit() and int(major) % 2 == 0
        return f"Ubuntu:{version}" + (":LTS" if lts else "")
    if distro == "alpine":
        minor = rest.partition(".")[0]
        return f"Alpine:v{major}.{minor}" if minor else None
    return None


def known_vulnerabilities(
    os_release: Any, packages: dict[str, Any], store: ArtifactStore, enrich: PackageEnricher
) -> dict[str, Any]:
    """OSV's known vulnerabilities of the installed packages. Never fails the scan: what went
    wrong is said in `status` and `error`."""
    ecosystem = osv_ecosystem(os_release)
    if ecosystem is None:
        return {"status": "unsupported", "error": "no OSV ecosystem for this distribution"}
    try:
        listed = store.get_json(str(packages.get("listRef")))
        refs = [
            (ecosystem, str(p["name"]), str(p["version"]))
            for p in listed or []
            if isinstance(p, dict) and p.get("name") and p.get("version")
        ]
        found = enrich(refs)
    except Exception as exc:  # enrichment annotates, it never fails a scan
        log.warning("vulnerability enrichment failed: %s: %s", type(exc).__name__, exc)
        return {"status": "error", "ecosystem": ecosystem, "error": f"{type(exc).__name__}: {exc}"}
    affected = []
    for key, vulns in sorted(found.by_software.items()):
        if not vulns:
            continue
        _, name, version = key.split("|", 2)
        cves = sorted({a for v in vulns for a in v.get("aliases", []) if str(a).startswith("CVE-")})
        affected.append(
            {"name": name, "version": version, "ids": [v["id"] for v in vulns], "cves": cves}
        )
    result: dict[str, Any] = {
        "status": found.status,
        "ecosystem": ecosystem,
        "error": found.error,
        "packagesChecked": len(refs),
        "packagesAffected": len(affected),
        "vulnerabilities": sum(len(a["ids"]) for a in affected),
        "packages": affected[:VULNERABLE_SAMPLE],
    }
    if len(affected) > VULNERABLE_SAMPLE:
        result["listRef"] = store.put_json("vulnerable-packages.json", affected)
    return result
