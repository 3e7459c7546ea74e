"""Metadata policy (section 6.1): the specification's own examples, then each operator,
combination and merge rule."""

from __future__ import annotations

import pytest

from federation import PolicyError, apply_policy, merge_policies, resolve_policy, validate_policy
from federation.policy import apply_superior_metadata

RP = "openid_relying_party"

# Section 6.1.5, "Example Metadata Policy of a Trust Anchor for RPs"
SPEC_TA_POLICY = {RP: {
    "grant_types": {"default": ["authorization_code"], "subset_of": ["authorization_code", "refresh_token"],
                    "superset_of": ["authorization_code"]},
    "token_endpoint_auth_method": {"one_of": ["private_key_jwt", "self_signed_tls_client_auth"], "essential": True},
    "token_endpoint_auth_signing_alg": {"one_of": ["PS256", "ES256"]},
    "subject_type": {"value": "pairwise"},
    "contacts": {"add": ["helpdesk@federation.example.org"]},
}}
# "Example Metadata Policy and Metadata Values of an Intermediate Entity for RPs"
SPEC_INT_POLICY = {RP: {
    "grant_types": {"subset_of": ["authorization_code"]},
    "token_endpoint_auth_method": {"one_of": ["self_signed_tls_client_auth"]},
    "contacts": {"add": ["helpdesk@org.example.org"]},
}}
SPEC_INT_METADATA = {RP: {"sector_identifier_uri": "https://org.example.org/sector-ids.json",
                          "policy_uri": "https://org.example.org/policy.html"}}
# "Example Merged Metadata Policy for RPs"
SPEC_MERGED = {
    "grant_types": {"default": ["authorization_code"], "superset_of": ["authorization_code"],
                    "subset_of": ["authorization_code"]},
    "token_endpoint_auth_method": {"one_of": ["self_signed_tls_client_auth"], "essential": True},
    "token_endpoint_auth_signing_alg": {"one_of": ["PS256", "ES256"]},
    "subject_type": {"value": "pairwise"},
    "contacts": {"add": ["helpdesk@federation.example.org", "helpdesk@org.example.org"]},
}
# "Example Entity Configuration RP Metadata"
SPEC_LEAF_METADATA = {RP: {
    "redirect_uris": ["https://rp.example.org/callback"], "response_types": ["code"],
    "token_endpoint_auth_method": "self_signed_tls_client_auth", "contacts": ["rp_admins@rp.example.org"],
}}
# "The Resulting RP Resolved Metadata for the Trust Chain Subject"
SPEC_RESOLVED = {
    "redirect_uris": ["https://rp.example.org/callback"], "grant_types": ["authorization_code"],
    "response_types": ["code"], "token_endpoint_auth_method": "self_signed_tls_client_auth",
    "subject_type": "pairwise", "sector_identifier_uri": "https://org.example.org/sector-ids.json",
    "policy_uri": "https://org.example.org/policy.html",
    "contacts": ["rp_admins@rp.example.org", "helpdesk@federation.example.org", "helpdesk@org.example.org"],
}


def _same(a: dict, b: dict) -> None:
    """Compare policies/metadata; the order of merged operator values is not defined (6.1.3)."""
    assert set(a) == set(b)
    for name in a:
        if isinstance(a[name], dict):
            _same(a[name], b[name])
        elif isinstance(a[name], list):
            assert sorted(map(str, a[name])) == sorted(map(str, b[name])), name
        else:
            assert a[name] == b[name], name


def test_spec_example_merge_gives_the_spec_merged_policy() -> None:
    merged = resolve_policy([{"iss": "https://ta", "metadata_policy": SPEC_TA_POLICY},
                             {"iss": "https://int", "metadata_policy": SPEC_INT_POLICY}])
    assert merged is not None
    _same(merged[RP], SPEC_MERGED)


def test_spec_example_application_gives_the_spec_resolved_metadata() -> None:
    merged = merge_policies(validate_policy(SPEC_TA_POLICY), validate_policy(SPEC_INT_POLICY))
    metadata = apply_superior_metadata(SPEC_LEAF_METADATA, SPEC_INT_METADATA)
    resolved = apply_policy(metadata, merged)[RP]
    _same(resolved, SPEC_RESOLVED)
    # add appends after what the leaf had, in the order the superiors gave (6.1.3.1.2)
    assert resolved["contacts"][0] == "rp_admins@rp.example.org"


def test_spec_example_leaf_with_another_auth_method_is_refused() -> None:
    merged = merge_policies(validate_policy(SPEC_TA_POLICY), validate_policy(SPEC_INT_POLICY))
    leaf = {RP: {**SPEC_LEAF_METADATA[RP], "token_endpoint_auth_method": "private_key_jwt"}}
    with pytest.raises(PolicyError, match="token_endpoint_auth_method"):
        apply_policy(leaf, merged)


@pytest.mark.parametrize(("essential", "given", "expected"), [
    # Section 6.1.3.2, "Examples of Outputs with Combinations of essential and subset_of"
    (True, ["a", "e"], ["a"]),
    (False, ["a", "e"], ["a"]),
    (True, ["d", "e"], []),
    (False, ["d", "e"], []),
    (True, None, PolicyError),
    (False, None, None),
])
def test_spec_table_of_essential_and_subset_of(essential, given, expected) -> None:
    policy = validate_policy({RP: {"p": {"essential": essential, "subset_of": ["a", "b", "c"]}}})
    metadata = {RP: {} if given is None else {"p": given}}
    if expected is PolicyError:
        with pytest.raises(PolicyError, match="required"):
            apply_policy(metadata, policy)
        return
    out = apply_policy(metadata, policy)[RP]
    assert out.get("p") == expected


def test_spec_fetch_response_example_policy_on_an_op() -> None:
    # Section 8.1.2's example subordinate statement: an OP's metadata under it
    policy = validate_policy({"openid_provider": {
        "subject_types_supported": {"value": ["pairwise"]},
        "token_endpoint_auth_methods_supported": {
            "default": ["private_key_jwt"], "subset_of": ["private_key_jwt", "client_secret_jwt"],
            "superset_of": ["private_key_jwt"]},
    }})
    op = {"openid_provider": {"subject_types_supported": ["public", "pairwise"],
                              "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"]}}
    out = apply_policy(op, policy)["openid_provider"]
    assert out == {"subject_types_supported": ["pairwise"], "token_endpoint_auth_methods_supported": ["private_key_jwt"]}
    absent = apply_policy({"openid_provider": {}}, policy)["openid_provider"]
    assert absent["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    bad = {"openid_provider": {"token_endpoint_auth_methods_supported": ["client_secret_jwt"]}}
    with pytest.raises(PolicyError, match="must include"):
        apply_policy(bad, policy)


def test_spec_entity_statement_example_with_critical_regexp_is_refused() -> None:
    # Section 3.3: metadata_policy_crit names "regexp", an operator this library does not implement.
    statement = {"iss": "https://feide.no", "metadata_policy_crit": ["regexp"], "metadata_policy": {
        "openid_provider": {"id_token_signing_alg_values_supported": {"subset_of": ["RS256", "RS384", "RS512"]},
                            "op_policy_uri": {"regexp": "^https:\\/\\/[\\w-]+\\.example\\.com\\/[\\w-]+\\.html"}},
        "oauth_client": {"grant_types": {"one_of": ["authorization_code", "client_credentials"]}}}}
    with pytest.raises(PolicyError, match="critical operator 'regexp'"):
        resolve_policy([statement])


def test_an_unknown_operator_that_is_not_critical_is_ignored() -> None:
    policy = validate_policy({RP: {"client_name": {"regexp": "^x", "essential": True}}})
    assert policy == {RP: {"client_name": {"essential": True}}}
    assert apply_policy({RP: {"client_name": "y"}}, policy) == {RP: {"client_name": "y"}}


def test_critical_operators_of_any_statement_apply_to_the_whole_chain() -> None:
    # The anchor declares regexp critical; the intermediate uses it.
    with pytest.raises(PolicyError, match="regexp"):
        resolve_policy([{"iss": "https://ta", "metadata_policy_crit": ["regexp"]},
                        {"iss": "https://int", "metadata_policy": {RP: {"a": {"regexp": "x"}}}}])


# ----------------------------------------------------------------------------- each operator


def _apply(ops: dict, metadata: dict) -> dict:
    return apply_policy({RP: metadata}, validate_policy({RP: {"p": ops}}))[RP]


def test_value_sets_overrides_and_removes() -> None:
    assert _apply({"value": True}, {}) == {"p": True}
    assert _apply({"value": "x"}, {"p": "y"}) == {"p": "x"}
    assert _apply({"value": None}, {"p": "y"}) == {}


def test_add_initialises_appends_and_never_duplicates() -> None:
    assert _apply({"add": ["a"]}, {}) == {"p": ["a"]}
    assert _apply({"add": ["a", "b"]}, {"p": ["b", "c"]}) == {"p": ["b", "c", "a"]}
    with pytest.raises(PolicyError, match="array"):
        _apply({"add": ["a"]}, {"p": "b"})


def test_default_only_fills_an_absent_parameter() -> None:
    assert _apply({"default": "x"}, {}) == {"p": "x"}
    assert _apply({"default": "x"}, {"p": "y"}) == {"p": "y"}


def test_one_of_checks_a_present_single_value() -> None:
    assert _apply({"one_of": ["a", "b"]}, {"p": "a"}) == {"p": "a"}
    assert _apply({"one_of": ["a", "b"]}, {}) == {}
    with pytest.raises(PolicyError, match="not one of"):
        _apply({"one_of": ["a", "b"]}, {"p": "c"})
    with pytest.raises(PolicyError, match="array"):
        _apply({"one_of": ["a", "b"]}, {"p": ["a"]})


def test_subset_of_narrows_to_the_intersection() -> None:
    assert _apply({"subset_of": ["a", "b"]}, {"p": ["b", "c"]}) == {"p": ["b"]}
    assert _apply({"subset_of": ["a"]}, {}) == {}


def test_superset_of_requires_every_value() -> None:
    assert _apply({"superset_of": ["a"]}, {"p": ["a", "b"]}) == {"p": ["a", "b"]}
    with pytest.raises(PolicyError, match="must include"):
        _apply({"superset_of": ["a", "c"]}, {"p": ["a", "b"]})


def test_essential_requires_presence_after_the_modifiers() -> None:
    with pytest.raises(PolicyError, match="missing"):
        _apply({"essential": True}, {})
    assert _apply({"essential": True, "default": "x"}, {}) == {"p": "x"}  # default acts before essential
    assert _apply({"essential": False}, {}) == {}


def test_set_equals_by_subset_and_superset() -> None:
    ops = {"subset_of": ["a", "b"], "superset_of": ["a", "b"]}
    assert _apply(ops, {"p": ["b", "a", "c"]}) == {"p": ["b", "a"]}
    with pytest.raises(PolicyError):
        _apply(ops, {"p": ["a"]})


def test_scope_is_treated_as_a_space_separated_array() -> None:
    out = apply_policy({RP: {"scope": "openid email phone"}},
                       validate_policy({RP: {"scope": {"subset_of": ["openid", "email", "profile"]}}}))
    assert out == {RP: {"scope": "openid email"}}
    out = apply_policy({RP: {"scope": "openid"}}, validate_policy({RP: {"scope": {"add": ["profile"]}}}))
    assert out == {RP: {"scope": "openid profile"}}


def test_policies_for_entity_types_the_entity_lacks_are_not_applied() -> None:
    policy = validate_policy({"openid_provider": {"issuer": {"essential": True}}})
    assert apply_policy({RP: {"a": 1}}, policy) == {RP: {"a": 1}}


# ----------------------------------------------------------------------------- combinations


@pytest.mark.parametrize(("ops", "reason"), [
    ({"one_of": ["a"], "add": ["a"]}, "cannot be combined"),
    ({"one_of": ["a"], "subset_of": ["a"]}, "cannot be combined"),
    ({"one_of": ["a"], "superset_of": ["a"]}, "cannot be combined"),
    ({"value": None, "essential": True}, "essential"),
    ({"value": None, "default": "x"}, "default"),
    ({"value": None, "one_of": ["a"]}, "not one of"),
    ({"value": None, "subset_of": ["a"]}, "subset"),
    ({"value": None, "add": ["a"]}, "add"),
    ({"value": "c", "one_of": ["a", "b"]}, "not one of"),
    ({"value": ["a", "c"], "subset_of": ["a", "b"]}, "subset"),
    ({"value": ["a"], "superset_of": ["a", "b"]}, "superset"),
    ({"value": ["a"], "add": ["b"]}, "add"),
    ({"add": ["c"], "subset_of": ["a", "b"]}, "within subset_of"),
    ({"subset_of": ["a"], "superset_of": ["a", "b"]}, "superset_of"),
    ({"one_of": []}, "non-empty"),
    ({"essential": "yes"}, "true or false"),
    ({"default": None}, "null"),
    ({"subset_of": "a"}, "array"),
])
def test_disallowed_combinations_and_values_are_policy_errors(ops, reason) -> None:
    with pytest.raises(PolicyError, match=reason):
        validate_policy({RP: {"p": ops}})


@pytest.mark.parametrize("ops", [
    {"value": ["a"], "add": ["a"], "subset_of": ["a", "b"], "superset_of": ["a"], "essential": True},
    {"value": "a", "one_of": ["a", "b"], "default": "b", "essential": False},
    {"value": None, "essential": False},
    {"add": ["a"], "default": ["a"], "superset_of": ["b"]},
])
def test_allowed_combinations_validate(ops) -> None:
    validate_policy({RP: {"p": ops}})


def test_malformed_structure_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        validate_policy([])
    with pytest.raises(PolicyError):
        validate_policy({RP: []})
    with pytest.raises(PolicyError):
        validate_policy({RP: {"p": "value"}})


# ----------------------------------------------------------------------------- merge rules


def _merge(superior: dict, subordinate: dict) -> dict:
    return merge_policies(validate_policy({RP: {"p": superior}}), validate_policy({RP: {"p": subordinate}}))[RP]["p"]


def test_merge_value_and_default_must_be_equal() -> None:
    assert _merge({"value": ["a", "b"]}, {"value": ["b", "a"]}) == {"value": ["a", "b"]}
    with pytest.raises(PolicyError, match="different value"):
        _merge({"value": "a"}, {"value": "b"})
    with pytest.raises(PolicyError, match="different default"):
        _merge({"default": "a"}, {"default": "b"})


def test_merge_unions_and_intersections() -> None:
    assert _merge({"add": ["a"]}, {"add": ["b", "a"]}) == {"add": ["a", "b"]}
    assert _merge({"superset_of": ["a"]}, {"superset_of": ["b"]}) == {"superset_of": ["a", "b"]}
    assert _merge({"subset_of": ["a", "b"]}, {"subset_of": ["b", "c"]}) == {"subset_of": ["b"]}
    assert _merge({"subset_of": ["a"]}, {"subset_of": ["c"]}) == {"subset_of": []}  # may be empty
    assert _merge({"one_of": ["a", "b"]}, {"one_of": ["b", "c"]}) == {"one_of": ["b"]}
    assert _merge({"essential": False}, {"essential": True}) == {"essential": True}
    assert _merge({"essential": True}, {"essential": False}) == {"essential": True}  # cannot be relaxed


def test_merge_one_of_with_nothing_in_common_is_an_error() -> None:
    with pytest.raises(PolicyError, match="nothing in common"):
        _merge({"one_of": ["a"]}, {"one_of": ["b"]})


def test_a_subordinate_cannot_make_the_merged_policy_inconsistent() -> None:
    # Each policy is fine on its own; together value "c" falls outside subset_of.
    with pytest.raises(PolicyError, match="subset"):
        _merge({"subset_of": ["a", "b"]}, {"value": ["c"]})
    with pytest.raises(PolicyError, match="cannot be combined"):
        _merge({"one_of": ["a"]}, {"add": ["a"]})


def test_merge_copies_entity_types_and_parameters_only_one_side_has() -> None:
    merged = merge_policies(validate_policy({RP: {"a": {"essential": True}}}),
                            validate_policy({RP: {"b": {"default": 1}}, "openid_provider": {"c": {"value": 2}}}))
    assert merged == {RP: {"a": {"essential": True}, "b": {"default": 1}}, "openid_provider": {"c": {"value": 2}}}


def test_no_policy_in_the_chain_resolves_to_none() -> None:
    assert resolve_policy([{"iss": "https://ta"}, {"iss": "https://int"}]) is None
    assert apply_policy({RP: {"a": 1}}, None) == {RP: {"a": 1}}


def test_superior_metadata_overrides_only_declared_entity_types() -> None:
    out = apply_superior_metadata({RP: {"client_name": "mine", "x": 1}},
                                  {RP: {"client_name": "theirs"}, "openid_provider": {"issuer": "https://x"}})
    assert out == {RP: {"client_name": "theirs", "x": 1}}
