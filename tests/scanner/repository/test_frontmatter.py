"""Front matter parsing: pure functions, malformed input as values (never exceptions), and the
fast path that must always agree with yaml.safe_load."""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.repository import frontmatter
from scanner.repository.model import FieldTable, document_artifact
from tests.support.git_repos import example_story

FIELDS = FieldTable(
    keys=("acceptance_criteria", "gxp_id", "parent_id", "status", "title", "validation_status"),
    values=("status", "validation_status"),
)


def test_example_story_front_matter_and_body() -> None:
    parsed = frontmatter.parse(example_story())
    assert parsed.error is None and parsed.data is not None
    assert parsed.data["gxp_id"] == "US-006-001"
    assert parsed.data["parent_id"] == "REQ-006"
    assert len(parsed.data["acceptance_criteria"]) == 5
    assert parsed.key_lines["gxp_id"] == 2
    assert parsed.key_lines["validation_status"] == 15
    assert parsed.body_line == 17
    artifact, problem = document_artifact("US-006-001.md", example_story(), FIELDS)
    assert problem is None and artifact is not None
    assert (artifact.type, artifact.parents, artifact.spec_refs) == (
        "US",
        ("REQ-006",),
        ("SPEC-006-001",),
    )
    assert artifact.scenarios == 4  # the four numbered "Test Scenarios"
    assert artifact.acceptance_criteria == 5
    assert artifact.values == {"status": "IMPLEMENTED", "validation_status": "DRAFT"}


def test_malformed_yaml_is_a_value_with_the_file_line() -> None:
    text = (
        "---\ngxp_id: US-001-001\ntitle: ok\nstatus: [DRAFT\nvalidation_status: DRAFT\n---\nbody\n"
    )
    parsed = frontmatter.parse(text)
    assert parsed.data is None
    assert parsed.error is not None and parsed.error.startswith("invalid YAML")
    assert parsed.error_line == 5  # the unclosed flow sequence fails at the next key
    _, problem = document_artifact("x.md", text, FIELDS)
    assert problem is not None and problem[1] == parsed.error_line


def test_unclosed_front_matter_and_non_mapping() -> None:
    unclosed = frontmatter.parse("---\ngxp_id: REQ-001\ntitle: t\n")
    assert unclosed.error == "front matter opened with '---' on line 1 is never closed"
    assert unclosed.error_line == 1
    listed = frontmatter.parse("---\n- gxp_id\n- REQ-001\n---\n")
    assert listed.error is not None and "mapping" in listed.error
    assert frontmatter.parse("no front matter\n---\n").data is None


def test_unsafe_yaml_tags_are_refused_not_executed() -> None:
    text = "---\ngxp_id: REQ-001\ntitle: !!python/object/apply:os.system ['echo hi']\n---\n"
    parsed = frontmatter.parse(text)
    assert parsed.data is None and parsed.error is not None
    assert parsed.error_line == 3


def test_sections_ignore_headings_inside_code_fences() -> None:
    body = (
        "## Test Scenarios\n1. One\n2. Two\n```\n## Implementing Specification\n- not this\n```\n"
        "- Three\n## Other\n- not a scenario\n### Implementing Specification\nSPEC-001-002: x\n"
    )
    found = frontmatter.sections(
        body, {"tests": ("test scenarios",), "spec": ("implementing specification",)}
    )
    assert frontmatter.list_items(found["tests"]) == ["1. One", "2. Two", "- Three"]
    assert [line for line in found["spec"] if line] == ["SPEC-001-002: x"]


def test_windows_line_endings_and_byte_order_mark() -> None:
    text = "\ufeff---\r\ngxp_id: REQ-001\r\ntitle: T\r\n---\r\nbody\r\n"
    parsed = frontmatter.parse(text)
    assert parsed.data == {"gxp_id": "REQ-001", "title": "T"}


# -- the fast path agrees with yaml.safe_load, or steps aside ---------------------------------

_VALUES = [
    "abc",
    "Story text (with) parens - and dashes",
    "Yes",
    "no",
    "On",
    "null",
    "NULL",
    "~",
    "123",
    "0x1F",
    "1_000",
    "2026-01-15",
    "2026-13-01",
    "2026-1-5",
    '"quoted text"',
    '"esc \\n"',
    "'single'",
    "'it''s'",
    "a: b",
    "a #comment",
    "a#b",
    "[x, y]",
    "{y: 1}",
    "&anchor v",
    "*alias",
    "!tag v",
    "|",
    ">",
    "- x",
    "",
    "é",
    "a\\b",
    "http://x.example/y",
    "-dash",
    "@at",
    "`tick`",
    "%pct",
    '"a" tail',
    "x\ty",
    ".inf",
]
_KEYS = ["gxp_id", "title", "status", "on", "yes", "null", "key_2", "Key", "_k"]


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["pair", "list", "comment", "blank", "junk"]))
        key = draw(st.sampled_from(_KEYS))
        if kind == "pair":
            spaces = draw(st.sampled_from([" ", "  "]))
            lines.append(
                f"{key}:{spaces}{draw(st.sampled_from(_VALUES))}".rstrip(" ")
                + draw(st.sampled_from(["", " "]))
            )
        elif kind == "list":
            lines.append(f"{key}:")
            indent = draw(st.sampled_from(["", "  ", "    "]))
            for _ in range(draw(st.integers(0, 3))):
                extra = draw(st.sampled_from(["", "", " "]))
                lines.append(f"{indent}{extra}- {draw(st.sampled_from(_VALUES))}")
        elif kind == "comment":
            lines.append(draw(st.sampled_from(["# note", "  # indented note"])))
        elif kind == "blank":
            lines.append("")
        else:
            lines.append(draw(st.sampled_from(["  continued", "plain", "k:v", "- top"])))
    return "\n".join(lines)


def _yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text) or {}
    except (yaml.YAMLError, ValueError):
        return "error"


@settings(max_examples=600, deadline=None)
@given(front_matter())
def test_fast_path_equals_yaml_safe_load(text: str) -> None:
    fast = frontmatter.simple_load(text)
    if fast is not None:
        assert fast == _yaml(text), text


def test_fast_path_takes_the_common_documents() -> None:
    text = (
        'gxp_id: SPEC-001-001\ntitle: "Scan: orchestration"\nparent_id: US-001-001\n'
        "approval_date: 2026-01-20\nlist:\n  - one item\n  - two items\n"
    )
    fast = frontmatter.simple_load(text)
    assert fast == {
        "gxp_id": "SPEC-001-001",
        "title": "Scan: orchestration",
        "parent_id": "US-001-001",
        "approval_date": dt.date(2026, 1, 20),
        "list": ["one item", "two items"],
    }
    assert fast == yaml.safe_load(text)
