"""Loading policy documents: what an operator sees when a document is right or wrong."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from policies import (
    AccessRule,
    AssuranceLevel,
    ClientPolicy,
    PolicyError,
    load_policy,
    load_policy_file,
    policy_schema,
    require_successor,
)
from policies.examples import example_names, load_example

GOOD_YAML = textwrap.dedent(
    """\
    version: 4
    description: Closed forum
    claims:
      allowed: [sub, name, verified_claims]
      essential: [verified_claims]
    access:
      professions: [physician]
      min_assurance_level: register_match
      max_verification_age: P365D
      jurisdictions: [DK, SE, "NO"]
    """
)


def good_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(GOOD_YAML)
    return document


def test_a_yaml_document_becomes_a_policy() -> None:
    policy = load_policy(GOOD_YAML, format="yaml")
    assert policy.version == 4
    assert policy.access is not None
    assert policy.access.min_assurance_level is AssuranceLevel.REGISTER_MATCH
    assert policy.access.jurisdictions == ("DK", "SE", "NO")
    assert policy.access.max_verification_age is not None
    assert policy.access.max_verification_age.days == 365
    assert policy.subject_type == "pairwise"  # the default
    assert policy.digest.startswith("sha256:") and len(policy.digest) == 7 + 64


def test_yaml_json_and_mapping_spellings_give_one_policy_and_one_digest() -> None:
    from_yaml = load_policy(GOOD_YAML)
    from_json = load_policy(json.dumps(good_document(), indent=2), format="json")
    guessed = load_policy(json.dumps(good_document()))  # starts with "{": read as JSON
    from_bytes = load_policy(GOOD_YAML.encode())
    assert from_yaml == from_json == guessed == from_bytes == load_policy(good_document())
    assert len({p.digest for p in (from_yaml, from_json, guessed, from_bytes)}) == 1


def test_stating_a_default_does_not_change_the_digest_but_a_rule_change_does() -> None:
    base = load_policy(good_document())
    explicit = good_document() | {"subject_type": "pairwise"}
    assert load_policy(explicit).digest == base.digest
    stricter = good_document()
    stricter["access"]["min_assurance_level"] = "register_and_id"
    assert load_policy(stricter).digest != base.digest
    reordered = good_document()
    reordered["access"]["jurisdictions"] = ["SE", "DK", "NO"]  # order shows in messages
    assert load_policy(reordered).digest != base.digest


@pytest.mark.parametrize("name", example_names())
def test_to_document_round_trips(name: str) -> None:
    policy = load_example(name)
    document = policy.to_document()
    assert load_policy(document) == policy
    assert load_policy(json.dumps(document), format="json").digest == policy.digest
    assert load_policy(yaml.safe_dump(document), format="yaml").digest == policy.digest
    jsonschema.validate(document, policy_schema())  # what the hub may publish agrees


def test_a_whole_number_written_as_float_is_an_integer_version() -> None:
    policy = load_policy(good_document() | {"version": 4.0})
    assert policy.version == 4 and isinstance(policy.version, int)


def test_a_policy_cannot_be_built_around_the_checks() -> None:
    rule = AccessRule(min_assurance_level=AssuranceLevel.SELF_DECLARED)
    with pytest.raises(PolicyError) as caught:
        ClientPolicy(version=1, allowed_claims=("sub",), essential_claims=("email",), access=rule)
    assert caught.value.path == "/claims/essential/0"


def test_load_policy_file_reads_by_suffix(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps(good_document()))
    (tmp_path / "p.yml").write_text(GOOD_YAML)
    assert load_policy_file(tmp_path / "p.json") == load_policy_file(tmp_path / "p.yml")


def test_an_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="format"):
        load_policy(GOOD_YAML, format="toml")  # type: ignore[arg-type]


# --- refused documents: the path names the offending field ------------------------------


def edited(path: str, value: Any) -> dict[str, Any]:
    """The good document with the field at ``path`` ("a/b") set, or removed if DELETE."""
    doc = good_document()
    *parents, last = path.split("/")
    target = doc
    for part in parents:
        target = target.setdefault(part, {})
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return doc


DELETE = object()

REFUSED = [
    # (document, JSON pointer of the offending field, words the message must contain)
    (edited("acess", {}), "/acess", "unknown field; did you mean 'access'?"),
    (edited("access/jurisdiction", ["DK"]), "/access/jurisdiction", "unknown field"),
    (edited("claims/optional", ["name"]), "/claims/optional", "unknown field"),
    (edited("access/min_assurance_level", 3), "/access/min_assurance_level", "not one of"),
    (edited("access/min_assurance_level", "gold"), "/access/min_assurance_level", "'gold'"),
    (edited("access/min_assurance_level", DELETE), "/access/min_assurance_level", "missing"),
    (edited("version", "4"), "/version", "must be an integer, not a string"),
    (edited("version", 0), "/version", "at least 1"),
    (edited("version", True), "/version", "must be an integer, not true"),
    (edited("version", DELETE), "/version", "required field is missing"),
    (edited("description", ["x"]), "/description", "must be a string, not a list"),
    (edited("access/max_verification_age", "P1Y"), "/access/max_verification_age", "P365D"),
    (edited("access/max_verification_age", 365), "/access/max_verification_age", "string"),
    (edited("access/max_verification_age", "P0D"), "/access/max_verification_age", "days"),
    (edited("access/jurisdictions", ["dk"]), "/access/jurisdictions/0", "ISO 3166-1"),
    (edited("access/jurisdictions", ["UK"]), "/access/jurisdictions/0", "write 'GB'"),
    (edited("access/jurisdictions", []), "/access/jurisdictions", "must not be empty"),
    (edited("access/jurisdictions", ["DK", "DK"]), "/access/jurisdictions", "more than once"),
    (edited("access/jurisdictions", "DK"), "/access/jurisdictions", "must be a list"),
    (edited("access/professions", ["physican"]), "/access/professions/0", "'physican'"),
    (edited("access/registers", ["GMC"]), "/access/registers/0", "register id"),
    (edited("access/min_acr", "urn:x:gold"), "/access/min_acr", "urn:curbside:acr:mfa"),
    (edited("claims/allowed", ["sub", "phone_number"]), "/claims/allowed/1", "phone_number"),
    (edited("claims/allowed", ["sub", "name"]), "/claims/essential/0", "not in /claims/allowed"),
    (edited("claims", DELETE), "/claims", "required field is missing"),
    (edited("subject_type", "ppid"), "/subject_type", "pairwise, public"),
    (edited("access", DELETE), "/access", "default_area"),
    (edited("default_area", "open"), "/default_area", "not both"),
    (
        edited("areas", {"Clinical": {"min_assurance_level": "register_match"}}),
        "/areas/Clinical",
        "area name",
    ),
    (
        edited("areas", {"clinical": {"min_assurance_level": "register_match", "x": 1}}),
        "/areas/clinical/x",
        "unknown field",
    ),
    (
        {
            "version": 1,
            "claims": {"allowed": ["sub"]},
            "areas": {"open": {"min_assurance_level": "self_declared"}},
            "default_area": "lounge",
        },
        "/default_area",
        "no area named 'lounge'",
    ),
    ([], "", "must be a mapping, not a list"),
]


@pytest.mark.parametrize(("document", "path", "words"), REFUSED)
def test_a_bad_document_is_refused_with_the_path_of_the_offending_field(
    document: object, path: str, words: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(document)  # type: ignore[arg-type]
    assert caught.value.path == path
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{path}: " if path else "document: ")


@pytest.mark.parametrize(("document", "path", "words"), REFUSED)
def test_the_same_documents_are_refused_as_yaml_text(
    document: object, path: str, words: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(yaml.safe_dump(document), format="yaml")
    assert caught.value.path == path


def test_every_problem_is_listed_not_only_the_first() -> None:
    doc = edited("version", "4")
    doc["access"]["colour"] = "blue"
    with pytest.raises(PolicyError) as caught:
        load_policy(doc)
    assert [p.path for p in caught.value.problems] == ["/access/colour", "/version"]
    assert "(and 1 more problem)" in str(caught.value)


def test_an_unquoted_norway_is_refused_with_a_hint_to_quote_it() -> None:
    text = GOOD_YAML.replace('[DK, SE, "NO"]', "[DK, SE, NO]")
    with pytest.raises(PolicyError) as caught:
        load_policy(text)
    assert caught.value.path == "/access/jurisdictions/2"
    assert "must be a string, not false" in str(caught.value)
    assert "quotes" in str(caught.value)


def test_a_duplicate_yaml_key_is_refused_instead_of_silently_overriding() -> None:
    text = GOOD_YAML.replace(
        "  min_assurance_level: register_match\n",
        "  min_assurance_level: register_match\n  min_assurance_level: self_declared\n",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(text)
    assert caught.value.path == "/access/min_assurance_level"
    assert "duplicate key" in str(caught.value)


def test_a_duplicate_json_key_is_refused() -> None:
    text = json.dumps(good_document()).replace('"version": 4', '"version": 4, "version": 5')
    with pytest.raises(PolicyError) as caught:
        load_policy(text, format="json")
    assert caught.value.path == "/version"


@pytest.mark.parametrize(
    ("text", "fmt", "words"),
    [
        ("version: 1\naccess: [unclosed\n", "yaml", "not valid YAML"),
        ("version: 1\n  bad: indent\n", "yaml", "line 2"),
        ("---\nversion: 1\n---\nversion: 2\n", "yaml", "not valid YAML"),
        ("!!python/object/apply:os.system ['true']", "yaml", "not valid YAML"),
        ("version: 1\nclaims: \x07\n", "yaml", "not valid YAML"),
        ('{"version": 1,}', "json", "not valid JSON"),
        ('{"version": 1,\n "claims": }', "json", "line 2"),
        ('{"version": NaN}', "json", "NaN is not a JSON value"),
        ("", "yaml", "must be a mapping, not empty"),
    ],
)
def test_unreadable_text_is_a_policy_error_not_a_parser_traceback(
    text: str, fmt: str, words: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(text, format=fmt)  # type: ignore[arg-type]
    assert words in str(caught.value)
    assert caught.value.path == ""
    assert not isinstance(caught.value, yaml.YAMLError | json.JSONDecodeError)
    assert caught.value.__cause__ is None  # "from None": no parser internals attached


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(b"version: \xff\n")


def test_an_alias_bomb_is_refused_cheaply() -> None:
    lines = ["version: 1", "claims: {allowed: [sub]}", "access: {min_assurance_level: x}"]
    lines.append("a0: &a0 [x, x, x, x, x, x, x, x, x, x]")
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(PolicyError, match="more than 10000 values"):
        load_policy("\n".join(lines))


def test_an_oversized_document_is_refused() -> None:
    with pytest.raises(PolicyError, match="longer than"):
        load_policy(GOOD_YAML + "#" * 300_000)


# --- schema -----------------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = policy_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def _object_schemas(node: object, where: str = "#") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append((where, node))
        for key, value in node.items():
            found.extend(_object_schemas(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_object_schemas(value, f"{where}/{index}"))
    return found


def test_every_object_in_the_schema_is_closed() -> None:
    objects = _object_schemas(policy_schema())
    assert len(objects) >= 4  # top, claims, areas, access_rule
    for where, schema in objects:
        closed = schema.get("additionalProperties")
        # Either no unknown keys at all, or a map whose keys and values are both checked.
        is_checked_map = isinstance(closed, dict) and "propertyNames" in schema
        assert closed is False or is_checked_map, where


def test_policy_schema_returns_a_copy() -> None:
    policy_schema()["properties"].clear()
    with pytest.raises(PolicyError):
        load_policy(edited("colour", "blue"))


# --- versions ---------------------------------------------------------------------------


def test_a_changed_policy_must_raise_its_version() -> None:
    old = load_policy(good_document())
    require_successor(old, load_policy(good_document()))  # same content: fine
    changed = edited("access/max_verification_age", "P180D")
    with pytest.raises(PolicyError) as caught:
        require_successor(old, load_policy(changed))
    assert caught.value.path == "/version"
    require_successor(old, load_policy(changed | {"version": 5}))
