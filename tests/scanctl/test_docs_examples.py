"""The commands docs/cli.md shows are commands scanctl accepts, and its pipeline snippets are
valid YAML that scan the pushed commit, gate on high findings and write SARIF."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import yaml

from scanctl.cli import build_parser
from tests.support.host_process import ROOT

DOC = (ROOT / "docs" / "cli.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def scanctl_lines(text: str) -> list[str]:
    """Each `scanctl ...` command: a line of its own, or a YAML `run:` value."""
    found = (re.match(r"\s*(?:run: )?(scanctl .*)", line) for line in text.splitlines())
    return [match.group(1).split("  #")[0].strip() for match in found if match]


def parse(command: str) -> Any:
    words = shlex.split(command.split(">")[0])[1:]
    return build_parser().parse_args(words)


def test_every_concrete_command_of_the_guide_parses() -> None:
    commands = [c for text in blocks("sh") for c in scanctl_lines(text)]
    concrete = [c for c in commands if "[" not in c and "|" not in c]
    assert len(concrete) >= 10
    for command in concrete:
        try:
            parse(command.replace("SCAN_ID", "01J9Z8Q4W5T2M7K3N6P1R0S8V4"))
        except SystemExit as exc:  # argparse's way of refusing
            pytest.fail(f"docs/cli.md shows a command scanctl refuses: {command} ({exc})")


@pytest.mark.parametrize("index", [0, 1], ids=["github-actions", "azure-pipelines"])
def test_pipeline_snippets_scan_the_pushed_commit_and_gate(index: int) -> None:
    snippet = blocks("yaml")[index]
    document = yaml.safe_load(snippet)
    assert isinstance(document, dict)
    commands = [c for c in scanctl_lines(snippet) if " scan repository " in c]
    assert len(commands) == 1
    command = commands[0]
    assert ("$GITHUB_SHA" if index == 0 else "$(Build.SourceVersion)") in command
    args = parse(command)
    assert (args.kind, args.targets, args.fail_on, args.output) == (
        "repository",
        ["gxp-docs"],
        "high",
        "sarif",
    )
    assert args.commit  # the pushed commit
    assert "SCAN_API_KEY" in snippet and "upload" in snippet.lower()
