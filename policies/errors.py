"""The one exception policy loading raises, whatever went wrong with the document."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def json_pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 JSON pointer for a path inside a document ("" is the whole document)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where (a JSON pointer) and what, in plain words."""

    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}" if self.path else f"document: {self.detail}"


class PolicyError(ValueError):
    """A policy (or sample-profile) document was refused.

    ``path`` is the JSON pointer of the first offending field ("" for the whole
    document); ``problems`` lists every problem found, so an operator portal can show
    them all at once. The message never contains a parser's traceback.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("PolicyError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.path: str = self.problems[0].path
        self.detail: str = self.problems[0].detail
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        super().__init__(str(self.problems[0]) + suffix)

    @classmethod
    def at(cls, path: str, detail: str) -> PolicyError:
        return cls([Problem(path, detail)])
