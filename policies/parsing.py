"""Text to plain data, for policy and sample-profile documents.

Whatever the parser says goes out as a PolicyError with a line and column, never as a
yaml or json exception. Duplicate keys are refused in both formats: both parsers would
silently keep the last one, so an operator who wrote ``min_assurance_level`` twice would
get a policy they did not read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import yaml

from policies.errors import PolicyError, Problem, json_pointer

Format = Literal["yaml", "json"]

# Policies are a few hundred bytes; the cap keeps a hostile upload cheap to refuse.
MAX_DOCUMENT_CHARS = 256 * 1024

_MERGE_TAG = "tag:yaml.org,2002:merge"

# YAML aliases can make a short text expand into a huge (or, for a mapping handed in by
# a caller, cyclic) structure; the schema validator and the digest would walk all of it.
MAX_DOCUMENT_NODES = 10_000


def check_size(data: object, budget: int = MAX_DOCUMENT_NODES) -> None:
    """Refuse data with more than ``budget`` values once aliases are expanded."""
    pending: list[object] = [data]
    seen = 0
    while pending:
        seen += 1
        if seen > budget:
            raise PolicyError.at("", f"more than {budget} values (check YAML aliases)")
        item = pending.pop()
        if isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def parse_document(text: str | bytes, format: Format | None = None) -> object:
    """Parse ``text`` as YAML or JSON; ``format=None`` means JSON when it starts with "{"."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError.at("", f"not UTF-8 text (bad byte at offset {exc.start})") from None
    if len(text) > MAX_DOCUMENT_CHARS:
        raise PolicyError.at("", f"longer than {MAX_DOCUMENT_CHARS} characters")
    if format is None:
        format = "json" if text.lstrip().startswith("{") else "yaml"
    if format == "json":
        data = _parse_json(text)
    elif format == "yaml":
        data = _parse_yaml(text)
    else:
        raise ValueError(f"format must be 'yaml', 'json' or None, not {format!r}")
    check_size(data)
    return data


class _PairsDict(dict[str, Any]):
    """A JSON object that remembers which of its keys appeared more than once."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> _PairsDict:
    obj = _PairsDict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicates: list[str] = []
        for key, _ in pairs:
            if key in seen:
                duplicates.append(key)
            seen.add(key)
        obj.duplicates = tuple(duplicates)
    return obj


def _refuse_constant(name: str) -> object:
    # json.loads accepts NaN and Infinity, which are not JSON (RFC 8259 section 6).
    raise ValueError(f"{name} is not a JSON value")


def _parse_json(text: str) -> object:
    try:
        data = json.loads(text, object_pairs_hook=_json_object, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise PolicyError.at(
            "", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:
        raise PolicyError.at("", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise PolicyError.at("", "not valid JSON: nested too deeply") from None
    problems = [
        Problem(json_pointer((*path, key)), "duplicate key")
        for path, obj in _walk_json(data, ())
        for key in obj.duplicates
    ]
    if problems:
        raise PolicyError(problems)
    return data


def _walk_json(
    data: object, path: tuple[str | int, ...]
) -> list[tuple[tuple[str | int, ...], _PairsDict]]:
    found: list[tuple[tuple[str | int, ...], _PairsDict]] = []
    if isinstance(data, _PairsDict):
        if data.duplicates:
            found.append((path, data))
        for key, value in data.items():
            found.extend(_walk_json(value, (*path, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(_walk_json(value, (*path, index)))
    return found


def _parse_yaml(text: str) -> object:
    try:
        # compose only builds the node tree (no objects are constructed); it is here to
        # find duplicate keys, which the constructor would silently merge.
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        problems = _yaml_duplicates(root, (), set())
        if problems:
            raise PolicyError(problems)
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        where = exc.problem_mark or exc.context_mark
        detail = exc.problem or exc.context or "unreadable"
        if where is not None:
            detail += f" (line {where.line + 1}, column {where.column + 1})"
        raise PolicyError.at("", f"not valid YAML: {detail}") from None
    except yaml.YAMLError as exc:
        raise PolicyError.at("", f"not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise PolicyError.at("", "not valid YAML: nested too deeply") from None


def _yaml_duplicates(
    node: yaml.Node | None, path: tuple[str | int, ...], visited: set[int]
) -> list[Problem]:
    # Aliases make the node tree a graph; visiting each node once keeps a "billion laughs"
    # document from costing more than its size.
    if node is None or id(node) in visited:
        return []
    visited.add(id(node))
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[tuple[str, str]] = set()
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                key = (key_node.tag, key_node.value)
                if key in seen:
                    problems.append(Problem(json_pointer((*path, key_node.value)), "duplicate key"))
                seen.add(key)
                child_path = (*path, key_node.value)
            else:
                child_path = path
            problems.extend(_yaml_duplicates(value_node, child_path, visited))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(_yaml_duplicates(item, (*path, index), visited))
    return problems
