"""Every scanctl command, run as a user or a pipeline runs it (a child process, no terminal),
against the service on the standalone host with real targets: a GxP Git repository, OpenSSH
servers and the TLS fakes of Azure. Exit codes, one-line errors and the JSON schema included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.scanctl.conftest import valid_output
from tests.support.cli_service import SCANCTL, Service, gxp_repository
from tests.support.git_repos import example_story
from tests.support.scan_api import API_KEY
from tests.support.sshd import closed_port


def assert_one_line_error(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    for word in words:
        assert word in lines[0], lines[0]
    assert API_KEY not in done.stderr + done.stdout


# -- targets ------------------------------------------------------------------------------------


def test_targets_of_each_kind_added_listed_shown_updated_and_removed(service: Service) -> None:
    path = str(service.repo.path)
    repo = service.run(
        *f"targets add repository {path} --id gxp-targets -o json".split(),
        "--schedule",
        "0 2 * * *",
    )
    assert repo.returncode == 0, repo.stderr
    added = valid_output(repo.stdout)["targets"][0]
    assert (added["kind"], added["id"], added["name"]) == ("repository", "gxp-targets", "gxp-docs")
    assert added["settings"]["url"] == str(service.repo.path)
    assert added["schedule"] == "0 2 * * *"

    host = service.run("targets", "add", "host", "scanner@10.1.2.3:2222", "--full", "--name", "db")
    assert host.returncode == 0, host.stderr
    assert "10.1.2.3" in host.stdout and "scanner" in host.stdout and "full" in host.stdout
    sub = service.run(
        "targets", "add", "subscription", service.subscription_id, "--rules", "storage-https-only"
    )
    assert sub.returncode == 0, sub.stderr

    listed = valid_output(service.run("targets", "list", "-o", "json").stdout)
    ids = {(t["kind"], t["id"]) for t in listed["targets"]}
    assert {
        ("repository", "gxp-targets"),
        ("host", "10.1.2.3-2222"),
        ("subscription", service.subscription_id),
    } <= ids
    table = service.run("targets", "list", "--kind", "host")
    assert table.returncode == 0 and "10.1.2.3-2222" in table.stdout
    assert "gxp-targets" not in table.stdout  # only hosts

    shown = valid_output(
        service.run("targets", "show", "host", "10.1.2.3-2222", "-o", "json").stdout
    )
    assert shown["targets"][0]["settings"]["scanType"] == "full"
    assert shown["targets"][0]["settings"]["username"] == "scanner"

    updated = service.run(
        "targets",
        "update",
        "host",
        "10.1.2.3-2222",
        "--quick",
        "--schedule",
        "*/30 * * * *",
        "-o",
        "json",
    )
    target = valid_output(updated.stdout)["targets"][0]
    assert (target["settings"]["scanType"], target["schedule"]) == ("quick", "*/30 * * * *")
    cleared = service.json("targets", "update", "host", "10.1.2.3-2222", "--no-schedule")
    assert cleared["targets"][0]["schedule"] is None
    renamed = service.json(
        "targets",
        "update",
        "repository",
        "gxp-targets",
        "--branch",
        "main",
        "--name",
        "GxP documents",
    )
    assert renamed["targets"][0]["name"] == "GxP documents"
    service.run("targets", "update", "subscription", service.subscription_id, "--rules", "a,b")
    shown_sub = service.json("targets", "show", "sub", service.subscription_id)
    assert shown_sub["targets"][0]["settings"]["rules"] == ["a", "b"]

    # Removing asks first; with no terminal to ask on, --yes is needed.
    refused = service.run("targets", "remove", "host", "10.1.2.3-2222")
    assert_one_line_error(refused, 2, "--yes")
    removed = service.run("targets", "remove", "host", "10.1.2.3-2222", "--yes", "-o", "json")
    assert valid_output(removed.stdout)["removed"] == {"kind": "host", "id": "10.1.2.3-2222"}
    again = service.run("targets", "show", "host", "10.1.2.3-2222")
    assert_one_line_error(again, 2, "10.1.2.3-2222")
    for kind, target_id in (
        ("repository", "gxp-targets"),
        ("subscription", service.subscription_id),
    ):
        assert service.run("targets", "remove", kind, target_id, "-y").returncode == 0


def test_target_input_errors_are_one_line_exit_2(service: Service) -> None:
    bad_cron = service.run("targets", "add", "host", "10.9.9.9", "--schedule", "every day")
    assert_one_line_error(bad_cron, 2, "schedule", "cron")
    bad_sub = service.run("targets", "add", "subscription", "not-a-guid")
    assert_one_line_error(bad_sub, 2, "subscriptionId")
    nothing = service.run("targets", "update", "host", "10.9.9.9-22")
    assert_one_line_error(nothing, 2, "nothing to change")
    unknown_kind = service.run("targets", "show", "printer", "x")
    assert unknown_kind.returncode == 2 and "not a kind of target" in unknown_kind.stderr
    sarif = service.run("targets", "list", "-o", "sarif")
    assert_one_line_error(sarif, 2, "sarif")


# -- scans of each kind, waited for ---------------------------------------------------------------


def test_host_scans_several_at_once_one_combined_view(service: Service) -> None:
    hosts = [f"127.0.0.1:{service.linux.port}", f"hostscan@127.0.0.1:{service.slow.port}"]
    done = service.run("scan", "host", *hosts, "--wait")
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if "127.0.0.1-" in line]
    assert len(rows) == 2 and all("completed" in row for row in rows)  # one table, both hosts
    # Off a terminal, progress is plain lines on stderr: the slow host seen running, both ended.
    slow = [line for line in done.stderr.splitlines() if service.slow.target_id in line]
    assert any(" running " in line and " 0% " not in line for line in slow), done.stderr
    for target in (service.linux.target_id, service.slow.target_id):
        lines = [line for line in done.stderr.splitlines() if target in line]
        assert " completed 100% " in lines[-1], done.stderr


def test_full_host_scan_json_output_matches_the_schema(service: Service) -> None:
    done = service.run(
        "scan", "host", f"127.0.0.1:{service.linux.port}", "--full", "--wait", "-q", "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # -q: no progress, no notes
    document = valid_output(done.stdout)
    scan = document["scans"][0]
    assert scan["status"] == "completed" and scan["progress"] == 100
    assert scan["results"]["scanType"] == "full" if "scanType" in scan["results"] else True
    assert scan["findings"]["total"] == sum(
        scan["findings"][s] for s in ("critical", "high", "medium", "low", "info")
    )
    assert document["gate"] == {
        "failOn": None,
        "failOnNew": False,
        "passed": True,
        "exitCode": 0,
        "reasons": [],
    }
    shown = service.json("scans", "show", scan["scanId"], "--items")
    assert len(shown["scans"][0]["items"]) >= 8  # the full set of commands
    table = service.run("scans", "show", scan["scanId"])
    assert "Results" in table.stdout and os.uname().release in table.stdout  # this machine's


def test_repository_scan_at_a_commit_gates_on_severity(service: Service) -> None:
    registered = service.run("targets", "add", "repository", str(service.repo.path), "--id", "gxp")
    assert registered.returncode == 0, registered.stderr
    head = service.repo.head()

    hit = service.run(
        "scan", "repository", "gxp", "--commit", head, "--fail-on", "high", "-o", "json"
    )
    assert hit.returncode == 1, hit.stderr  # --fail-on implies --wait
    document = valid_output(hit.stdout)
    scan = document["scans"][0]
    assert scan["status"] == "completed" and scan["results"]["commitSha"] == head
    assert scan["findings"]["high"] >= 1
    assert document["gate"]["passed"] is False and document["gate"]["exitCode"] == 1
    assert "reach --fail-on high" in hit.stderr

    passed = service.run("scan", "repository", "gxp", "--fail-on", "critical")
    assert passed.returncode == 0, passed.stderr
    assert "completed" in passed.stdout and "high" in passed.stdout  # found, below the gate

    sarif = service.run("scan", "repository", "gxp", "-o", "sarif", "-q")
    assert sarif.returncode == 0, sarif.stderr
    log = json.loads(sarif.stdout)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    assert {r["level"] for r in log["runs"][0]["results"]} >= {"error"}
    assert any(r["ruleId"] for r in log["runs"][0]["results"])


def test_subscription_scan_waits_and_gates(service: Service) -> None:
    sub = service.subscription_id
    done = service.run(*f"scan subscription {sub} --wait --fail-on medium -o json".split())
    assert done.returncode == 1, done.stderr
    scan = valid_output(done.stdout)["scans"][0]
    assert scan["targetType"] == "subscription" and scan["status"] == "completed"
    assert scan["findings"]["total"] == scan["results"]["findings"] > 0


def test_a_scan_that_fails_exits_3_with_its_reason(service: Service) -> None:
    port = closed_port()
    done = service.run("scan", "host", f"127.0.0.1:{port}", "--wait", "--fail-on", "low")
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "failed" in done.stdout
    reason = [line for line in done.stderr.splitlines() if f"127.0.0.1-{port}: scan" in line]
    assert reason and "refused" in reason[0].lower(), done.stderr


# -- credentials and reachability --------------------------------------------------------------


def test_wrong_or_missing_key_exits_4_and_never_shows_a_key(
    service: Service, tmp_path: Path
) -> None:
    wrong = service.run("scans", "list", env=service.env(SCAN_API_KEY="wrong-key-123456"))
    assert_one_line_error(wrong, 4, "SCAN_API_KEY", "refused")
    assert "wrong-key-123456" not in wrong.stderr

    flag = service.run("scans", "list", "--api-key", "another-wrong-key")
    assert_one_line_error(flag, 4, "--api-key")
    assert "another-wrong-key" not in flag.stderr

    missing = service.run("scans", "list", env=service.env(SCAN_API_KEY=""))
    assert_one_line_error(missing, 4, "no API key was given", "SCAN_API_KEY")

    key_file = tmp_path / "key"
    key_file.write_text(API_KEY + "\n")
    from_file = service.run(
        "scans", "list", "--api-key-file", str(key_file), env=service.env(SCAN_API_KEY="")
    )
    assert from_file.returncode == 0, from_file.stderr
    env_file = service.run(
        "scans", "list", env=service.env(SCAN_API_KEY="", SCAN_API_KEY_FILE=str(key_file))
    )
    assert env_file.returncode == 0, env_file.stderr
    no_file = service.run("scans", "list", "--api-key-file", str(tmp_path / "nope"))
    assert_one_line_error(no_file, 2, "cannot read the API key file")


def test_unreachable_service_exits_5(service: Service) -> None:
    port = closed_port()
    done = service.run("scans", "list", "--url", f"http://127.0.0.1:{port}")
    assert_one_line_error(done, 5, "cannot reach", f"127.0.0.1:{port}", "refused")
    not_a_url = service.run("scans", "list", "--url", "ftp://example.org")
    assert_one_line_error(not_a_url, 2, "--url")


def test_a_wait_that_times_out_exits_5_and_the_scan_goes_on(service: Service) -> None:
    done = service.run("scan", "host", f"127.0.0.1:{service.slow.port}", "--wait", "--timeout", "1")
    assert done.returncode == 5, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: still running after 1 s") and "scans watch " in last
    scan_id = last.rsplit("scans watch ", 1)[1].strip()
    # It went on: follow it to its end with the command the message gave.
    watched = service.run("scans", "watch", scan_id, "-q")
    assert watched.returncode == 0, watched.stderr
    assert "completed" in watched.stdout and scan_id in watched.stdout


# -- scans: list, show, cancel, report ---------------------------------------------------------


def test_scans_list_filters_and_pages(service: Service) -> None:
    port = service.linux.port
    for _ in range(3):
        assert service.run("scan", "host", f"127.0.0.1:{port}", "--wait", "-q").returncode == 0
    first = service.json(
        "scans", "list", "--target", f"127.0.0.1-{port}", "--kind", "host", "--limit", "2"
    )
    valid_output(json.dumps(first))
    assert len(first["scans"]) == 2 and first["continuationToken"]
    second = service.json(
        "scans",
        "list",
        "--target",
        f"127.0.0.1-{port}",
        "--kind",
        "host",
        "--limit",
        "2",
        "--page-token",
        first["continuationToken"],
    )
    page_ids = [s["scanId"] for s in first["scans"] + second["scans"]]
    everything = service.json(
        "scans", "list", "--target", f"127.0.0.1-{port}", "--kind", "host", "--limit", "2", "--all"
    )
    all_ids = [s["scanId"] for s in everything["scans"]]
    assert len(all_ids) >= 3 and all_ids[: len(page_ids)] == page_ids
    assert all_ids == sorted(all_ids, reverse=True)  # newest first
    assert everything["continuationToken"] is None

    failed = service.json("scans", "list", "--status", "failed", "--kind", "host")
    assert failed["scans"] and {s["status"] for s in failed["scans"]} == {"failed"}
    table = service.run("scans", "list", "--kind", "host", "--limit", "1")
    assert table.returncode == 0 and "--page-token" in table.stderr
    bad = service.run("scans", "list", "--limit", "1000")
    assert_one_line_error(bad, 2, "--limit")


def test_scans_show_report_and_cancel(service: Service, tmp_path: Path) -> None:
    started = service.json("scan", "host", f"127.0.0.1:{service.slow.port}")
    scan_id = started["scans"][0]["scanId"]
    assert started["scans"][0]["status"] == "pending" and started["gate"] is None
    service.wait_status(scan_id, ("running",))

    cancelled = service.run("scans", "cancel", scan_id, "-o", "json")
    assert cancelled.returncode == 0, cancelled.stderr
    assert valid_output(cancelled.stdout)["scans"][0]["status"] == "cancelled"
    again = service.run("scans", "cancel", scan_id)
    assert_one_line_error(again, 2, "finished" if "finished" in again.stderr else "cancelled")

    shown = service.run("scans", "show", scan_id, "--items")
    assert shown.returncode == 0 and "cancelled" in shown.stdout and scan_id in shown.stdout

    csv_file = tmp_path / "report.csv"
    written = service.run("scans", "report", scan_id, "--format", "csv", "-o", str(csv_file))
    assert written.returncode == 0, written.stderr
    assert csv_file.read_text().startswith("item,item_status,rule")
    html = service.run("scans", "report", scan_id, "--format", "html")
    assert html.returncode == 0 and html.stdout.startswith("<!doctype html>")
    confused = service.run("scans", "report", scan_id, "-o", "json")
    assert_one_line_error(confused, 2, "--format json")
    unknown = service.run("scans", "show", "01NOSUCHSCAN0000000000000")
    assert_one_line_error(unknown, 2, "no scan")


def test_a_target_the_service_refuses_does_not_stop_the_others(service: Service) -> None:
    done = service.run("scan", "host", f"127.0.0.1:{service.linux.port}", "bad_host!", "--wait")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "error: host bad_host!-22:" in done.stderr and "hostname" in done.stderr
    assert service.linux.target_id in done.stdout and "completed" in done.stdout


# -- Ctrl-C ---------------------------------------------------------------------------------------


def _sigint_as_at_a_terminal() -> None:
    # A runner that starts the suite in the background (a CI job, `make test &`) ignores SIGINT,
    # and an ignored signal stays ignored across exec: the client would never see Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_while_waiting(service: Service, *extra: str) -> tuple[int, str, str]:
    """Start a wait on the slow host, Ctrl-C it once the scan runs; (code, scan id, stderr)."""
    process = subprocess.Popen(
        [str(SCANCTL), "scan", "host", f"127.0.0.1:{service.slow.port}", "--wait", *extra],
        env=service.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_as_at_a_terminal,
    )
    deadline = time.monotonic() + 30
    scan_id = None
    while scan_id is None:
        assert time.monotonic() < deadline
        running = service.api(
            "GET", "/api/v1/scans", params={"status": "running", "targetId": service.slow.target_id}
        )
        scan_id = running["items"][0]["scanId"] if running["items"] else None
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert "Traceback" not in stderr
    return process.returncode, scan_id, stderr


def test_ctrl_c_leaves_the_scan_running_and_says_how_to_follow(service: Service) -> None:
    code, scan_id, stderr = _interrupt_while_waiting(service)
    assert code == 130
    assert f"scans watch {scan_id}" in stderr and "keeps running" in stderr
    assert service.api("GET", f"/api/v1/scans/{scan_id}")["status"] == "running"
    assert service.wait_status(scan_id, ("completed",))["status"] == "completed"


def test_ctrl_c_with_cancel_on_interrupt_cancels(service: Service) -> None:
    code, scan_id, stderr = _interrupt_while_waiting(service, "--cancel-on-interrupt")
    assert code == 3
    assert f"Cancelled 1 scan(s): {scan_id}" in stderr
    assert service.api("GET", f"/api/v1/scans/{scan_id}")["status"] == "cancelled"


# -- python -m, targets from a file --------------------------------------------------------------


def test_python_m_and_targets_from_a_file(service: Service, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(f"# the fleet\n127.0.0.1:{service.linux.port}  # fast one\n\n")
    done = subprocess.run(
        [sys.executable, "-m", "scanctl", "scan", "host", "-f", str(hosts), "--wait", "-q"],
        env=service.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and service.linux.target_id in done.stdout
    from_stdin = service.run(
        "scan", "host", "-f", "-", "--wait", "-q", stdin=f"127.0.0.1:{service.linux.port}\n"
    )
    assert from_stdin.returncode == 0 and service.linux.target_id in from_stdin.stdout
    empty = service.run("scan", "host")
    assert_one_line_error(empty, 2, "name at least one host")
    never = service.run("scan", "host", "web1", "--timeout", "0")
    assert never.returncode == 2 and "more than 0 seconds" in never.stderr


# -- what changed: diff and --fail-on-new ----------------------------------------------------------


def test_fail_on_new_passes_on_old_findings_and_fails_on_a_new_one(service: Service) -> None:
    repo = gxp_repository(service.work / "gxp-changing")
    assert (
        service.run(
            "targets", "add", "repository", str(repo.path), "--id", "gxp-changing", "-q"
        ).returncode
        == 0
    )
    # The first scan has no earlier one: every finding is new.
    first = service.run("scan", "repository", "gxp-changing", "--fail-on-new")
    assert first.returncode == 1, first.stderr
    assert "(no earlier scan)" in first.stderr

    # A rescan with only the old findings passes, even though they are high.
    again = service.run(
        "scan", "repository", "gxp-changing", "--fail-on-new", "--fail-on", "high", "-o", "json"
    )
    assert again.returncode == 0, again.stderr
    scan = valid_output(again.stdout)["scans"][0]
    assert scan["findings"]["high"] >= 1 and scan["newFindings"] == 0
    old_scan = scan["scanId"]

    # One more story with the example story's gaps: new findings, and the gate fails.
    repo.write("stories/US-006-002.md", example_story().replace("US-006-001", "US-006-002"))
    repo.commit("a second story, as incomplete as the first")
    hit = service.run("scan", "repository", "gxp-changing", "--fail-on-new", "-o", "json")
    assert hit.returncode == 1, hit.stderr
    document = valid_output(hit.stdout)
    new_scan = document["scans"][0]
    assert new_scan["newFindings"] >= 1 and document["gate"]["failOnNew"] is True
    assert f"since scan {old_scan}" in document["gate"]["reasons"][0]

    # scans diff: the same delta, as a table, as JSON (schema) and as SARIF.
    table = service.run("scans", "diff", new_scan["scanId"])
    assert table.returncode == 0, table.stderr
    assert f"against scan {old_scan}" in table.stdout
    new_rows = [line for line in table.stdout.splitlines() if line.lstrip().startswith("new ")]
    assert len(new_rows) == new_scan["newFindings"]
    assert any("US-006-002" in row for row in new_rows)
    diff = valid_output(service.run("scans", "diff", new_scan["scanId"], "-o", "json").stdout)
    assert diff["diff"]["baseline"]["scanId"] == old_scan
    assert diff["diff"]["findings"]["counts"]["new"] == new_scan["newFindings"]
    assert diff["diff"]["findings"]["counts"]["resolved"] == 0
    against = service.json("scans", "diff", old_scan, "--against", new_scan["scanId"])
    assert against["diff"]["findings"]["counts"]["resolved"] == new_scan["newFindings"]
    sarif = json.loads(service.run("scans", "diff", new_scan["scanId"], "-o", "sarif").stdout)
    states = {r.get("baselineState") for run in sarif["runs"] for r in run["results"]}
    assert {"new", "unchanged"} <= states
    running = service.run("scans", "diff", "01NOSUCHSCAN0000000000000")
    assert_one_line_error(running, 2, "no scan")
