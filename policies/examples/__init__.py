"""Example policies for the seed partner patterns, and sample doctors to try them on.

Operators start from these; the tests hold each one to the doctors it must let in and
the ones it must refuse.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources

from policies.facts import SubjectFacts
from policies.model import ClientPolicy, load_policy
from policies.profiles import load_profiles

PROFILES_FILE = "profiles.yaml"


def example_names() -> tuple[str, ...]:
    """Names of the shipped example policies, e.g. "scandinavian-doctors-only"."""
    files = resources.files(__name__).iterdir()
    return tuple(
        sorted(
            f.name.removesuffix(".yaml")
            for f in files
            if f.name.endswith(".yaml") and f.name != PROFILES_FILE
        )
    )


def load_example(name: str) -> ClientPolicy:
    if name not in example_names():
        raise KeyError(f"no example policy named {name!r}")
    return load_policy(
        resources.files(__name__).joinpath(f"{name}.yaml").read_bytes(), format="yaml"
    )


def sample_profiles(now: datetime) -> dict[str, SubjectFacts]:
    """The shipped sample doctors, verification times counted back from ``now``."""
    text = resources.files(__name__).joinpath(PROFILES_FILE).read_bytes()
    return load_profiles(text, now=now, format="yaml")
