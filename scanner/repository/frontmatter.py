"""YAML front matter of Markdown documents: split, parse safely, locate keys. Pure functions.

A document with front matter starts with a line `---`; the front matter ends at the next line
`---` (or `...`). It is parsed with `yaml.safe_load` semantics (the C loader when PyYAML has
it): no Python objects, no custom tags. Nothing here raises on bad input: problems come back as
values with the file line they refer to.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

# libyaml's loader is several times faster, with the same safe constructors.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)\s*:")
_DELIMITERS = ("---", "...")


@dataclass(slots=True)
class FrontMatter:
    """What the front matter of one document holds, or why it could not be read.

    Lines are 1-based file lines. `data` is None when there is no front matter at all;
    `error` is set (with `error_line`) when there is one that cannot be read.
    """

    data: dict[str, Any] | None = None
    key_lines: dict[str, int] = field(default_factory=dict)
    body: str = ""
    body_line: int = 1
    error: str | None = None
    error_line: int = 1
    raw: str = ""


def _first_line_is_delimiter(text: str) -> bool:
    end = text.find("\n")
    first = text if end < 0 else text[:end]
    return first.rstrip("\r").rstrip() == "---"


_CLOSING = re.compile(r"^(?:---|\.\.\.)[^\S\n]*$", re.MULTILINE)


def split(text: str) -> tuple[str, str, int] | None:
    """(front matter text, body, body's first line), or None when there is no front matter.

    Raises ValueError when the front matter is opened but never closed.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if not _first_line_is_delimiter(text):
        return None
    first_end = text.find("\n")
    closing = _CLOSING.search(text, first_end + 1) if first_end >= 0 else None
    if closing is None:
        raise ValueError("front matter opened with '---' on line 1 is never closed")
    front = text[first_end + 1 : max(first_end + 1, closing.start() - 1)]
    if "\r" in front:
        front = "\n".join(line.rstrip("\r") for line in front.split("\n"))
    body = text[closing.end() + 1 :]
    return front, body, text.count("\n", 0, closing.start()) + 2


def key_lines(front: str, first_line: int = 2) -> dict[str, int]:
    """File line of each top-level key (the first occurrence wins, like a reader would)."""
    found: dict[str, int] = {}
    for offset, line in enumerate(front.split("\n")):
        match = _TOP_LEVEL_KEY.match(line)
        if match and match.group(1) not in found:
            found[match.group(1)] = first_line + offset
    return found


# -- a fast path for the plain front matter almost every document has ------------------------
# `key: value` lines and `- item` lists of plain scalars. Anything else (quotes with escapes,
# flow or block collections, anchors, tags, numbers, comments after values, ...) makes
# `simple_load` give up and the YAML loader read the front matter: the result is always what
# `yaml.safe_load` returns (tests/scanner/repository/test_frontmatter.py checks it with
# generated documents).

_SIMPLE_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(?: +(.*?))?[ ]*$")
_SIMPLE_ITEM = re.compile(r"^( *)- +(.*?)[ ]*$")
_PLAIN = re.compile(r"^[A-Za-z](?:(?![:#'\"{}\[\]\\])[ -~])*$")
_DQ_INNER = re.compile(r"^[ !#-\[\]-~]*$")  # printable ASCII without " and backslash
_SQ_INNER = re.compile(r"^[ -&(-~]*$")  # printable ASCII without '"
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
# Plain words YAML 1.1 reads as booleans or null, not as text.
_SPECIAL_WORDS = frozenset(
    form
    for word in ("yes", "no", "true", "false", "on", "off", "null")
    for form in (word, word.capitalize(), word.upper())
)
_GIVE_UP = object()
# Most lines are `key: plain words`, `key: 'quoted'`, `key:` or `- plain words`: one match reads
# them (plain: printable ASCII but : # ' " { } [ ] and backslash, starting with a letter).
_PLAIN_REST = r"[ !$-&(-9;-Z^-z|~]*"  # greedy: trailing spaces are stripped after
_COMMON_LINE = re.compile(
    rf"([A-Za-z_][A-Za-z0-9_]*):(?: +(?:([A-Za-z]{_PLAIN_REST})|'([ -&(-~]*)'))?[ ]*"
    rf"|( *)- +([A-Za-z]{_PLAIN_REST})[ ]*"
)


def _simple_scalar(text: str) -> Any:
    if not text:
        return None
    if text[0] == '"':
        inner = text[1:-1]
        if len(text) >= 2 and text[-1] == '"' and _DQ_INNER.match(inner):
            return inner
        return _GIVE_UP
    if text[0] == "'":
        inner = text[1:-1]
        if len(text) >= 2 and text[-1] == "'" and _SQ_INNER.match(inner):
            return inner
        return _GIVE_UP
    if _PLAIN.match(text) and text not in _SPECIAL_WORDS and " #" not in text:
        return text
    date = _DATE.match(text)
    if date:
        try:
            return dt.date(int(date[1]), int(date[2]), int(date[3]))
        except ValueError:
            return _GIVE_UP
    return _GIVE_UP


def simple_load(front: str) -> dict[str, Any] | None:
    """The mapping `yaml.safe_load(front)` gives, for the simple subset; None otherwise."""
    loaded = _simple_load(front, 0)
    return loaded[0] if loaded is not None else None


def _simple_load(front: str, first_line: int) -> tuple[dict[str, Any], dict[str, int]] | None:
    """(`simple_load(front)`, `key_lines(front, first_line)`) in one pass, or None."""
    data: dict[str, Any] = {}
    lines: dict[str, int] = {}
    current: list[Any] | None = None
    current_key: str | None = None
    indent = -1
    for offset, line in enumerate(front.split("\n")):
        common = _COMMON_LINE.fullmatch(line)
        if common is not None:
            name, plain, quoted, spaces, item = common.groups()
            if name is not None:
                value = plain.rstrip(" ") if plain is not None else quoted
                if value in _SPECIAL_WORDS or name in data or name in _SPECIAL_WORDS:
                    return None
                data[name] = value
                lines[name] = first_line + offset
                current_key, indent = name, -1
                current = None if value is not None else []
                continue
            item = item.rstrip(" ")
            if current is None or current_key is None or item in _SPECIAL_WORDS:
                return None
            if (indent >= 0 and len(spaces) != indent) or (
                not current and data[current_key] is not None
            ):
                return None
            indent = len(spaces)
            current.append(item)
            data[current_key] = current
            continue
        head = line[:1]
        if head.isalpha() or head == "_":  # only a key line starts so (or it is not simple)
            key = _SIMPLE_KEY.match(line)
            if key is None:
                return None
            name, text = key.group(1), key.group(2) or ""
            value = _simple_scalar(text)
            if value is _GIVE_UP or name in data or name in _SPECIAL_WORDS:
                return None
            data[name] = value
            lines[name] = first_line + offset
            current_key, current, indent = name, (None if text else []), -1
            continue
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            continue
        item = _SIMPLE_ITEM.match(line)
        if item and current is not None and current_key is not None:
            value = _simple_scalar(item.group(2))
            if value is _GIVE_UP or (indent >= 0 and len(item.group(1)) != indent):
                return None
            indent = len(item.group(1))
            if not current and data[current_key] is not None:
                return None
            current.append(value)
            data[current_key] = current
            continue
        return None
    return data, lines


def _yaml_error(exc: yaml.YAMLError, front: str, first_line: int) -> tuple[str, int]:
    """Message and file line of a YAML error. An error found at the end of the front matter
    (an unclosed bracket or quote) points at where the unclosed construct started."""
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    last = front.count("\n")
    mark = problem_mark or context_mark
    if problem_mark is not None and context_mark is not None and problem_mark.line > last:
        mark = context_mark
    offset = min(mark.line, last) if mark is not None else 0
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    text = " ".join(str(part) for part in (context, problem) if part) or str(exc).split("\n")[0]
    return f"invalid YAML: {text}", first_line + offset


def parse(text: str) -> FrontMatter:
    """The front matter of `text` (never raises)."""
    try:
        parts = split(text)
    except ValueError as exc:
        return FrontMatter(error=str(exc), error_line=1, raw=text[:4096])
    if parts is None:
        return FrontMatter(body=text)
    front, body, body_line = parts
    simple = _simple_load(front, 2)
    if simple is not None:
        return FrontMatter(
            data=simple[0], key_lines=simple[1], body=body, body_line=body_line, raw=front
        )
    try:
        data = yaml.load(front, Loader=_Loader)  # noqa: S506 - a safe loader (CSafeLoader)
    except yaml.YAMLError as exc:
        message, line = _yaml_error(exc, front, 2)
        return FrontMatter(
            error=message, error_line=line, body=body, body_line=body_line, raw=front
        )
    except (ValueError, TypeError, RecursionError) as exc:  # odd scalars, deep nesting
        return FrontMatter(
            error=f"invalid YAML: {type(exc).__name__}", body=body, body_line=body_line, raw=front
        )
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return FrontMatter(
            error=f"front matter must be a mapping of fields, not a {type(data).__name__}",
            error_line=2,
            body=body,
            body_line=body_line,
            raw=front,
        )
    return FrontMatter(
        data={str(k): v for k, v in data.items()},
        key_lines=key_lines(front),
        body=body,
        body_line=body_line,
        raw=front,
    )


# -- Markdown body sections -----------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,9}[.)])\s+\S")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def sections(body: str, wanted: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Lines of the body sections whose heading (any level, case-insensitive) is one of the
    titles in `wanted`, keyed like `wanted`. Headings inside code fences do not count."""
    return titled_sections(body, {title: key for key, names in wanted.items() for title in names})


def titled_sections(body: str, titles: dict[str, str]) -> dict[str, list[str]]:
    """`sections` with the wanted titles given as {lower-case title: key}."""
    found: dict[str, list[str]] = {}
    if "#" not in body:  # sections start at headings
        return found
    current: list[str] | None = None
    current_level = 0
    fence: str | None = None
    for line in body.split("\n"):
        head = line[:1]
        if not head or (head not in "#`~" and not head.isspace()):  # neither heading nor fence
            if current is not None:
                current.append(line)
            continue
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            fence = None if fence == marker else (fence or marker)
            if current is not None:
                current.append(line)
            continue
        heading = _HEADING.match(line) if fence is None else None
        if heading:
            level = len(heading.group(1))
            title = heading.group(2).strip().strip(":").strip().lower()
            if title in titles:
                current = found.setdefault(titles[title], [])
                current_level = level
                continue
            if current is not None and level <= current_level:
                current = None
            continue
        if current is not None:
            current.append(line)
    return found


def list_items(lines: list[str]) -> list[str]:
    """The list items (bulleted or numbered) among `lines`, outside code fences."""
    items: list[str] = []
    fence = False
    for line in lines:
        if _FENCE.match(line):
            fence = not fence
            continue
        if not fence and _LIST_ITEM.match(line):
            items.append(line.strip())
    return items
