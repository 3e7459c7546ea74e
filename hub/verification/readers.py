"""Streaming readers for register files: strict decoding line by line (so an encoding
error names its line), CSV records with their line numbers, header checks, and the
guard against a truncated last line."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import BinaryIO

from hub.verification.base import RegisterFileError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class LineCounter:
    """Shared between a reader and the import driver for progress reporting."""

    line: int = 0
    bytes_read: int = 0


def decoded_lines(
    f: BinaryIO,
    encoding: str,
    *,
    path: str = "",
    counter: LineCounter | None = None,
    check: Callable[[str, int], None] | None = None,
) -> Iterator[str]:
    """Yield each physical line decoded strictly; the last line must end with a newline
    (a file cut short mid-line is rejected rather than imported half)."""
    counter = counter or LineCounter()
    for raw in f:
        counter.line += 1
        counter.bytes_read += len(raw)
        if not raw.endswith(b"\n"):
            raise RegisterFileError("truncated last line (no line terminator)", line=counter.line, path=path)
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise RegisterFileError(
                f"not valid {encoding} at byte {exc.start}", line=counter.line, path=path
            ) from None
        if counter.line == 1:
            text = text.removeprefix("\ufeff")
        if check is not None:
            check(text, counter.line)
        yield text


@dataclass(frozen=True, slots=True)
class Record:
    start: int  # first physical line of the record
    end: int  # last physical line (differs when a quoted field holds a newline)
    fields: list[str]


def csv_records(
    f: BinaryIO,
    *,
    encoding: str,
    delimiter: str = ",",
    path: str = "",
    counter: LineCounter | None = None,
    check: Callable[[str, int], None] | None = None,
) -> Iterator[Record]:
    counter = counter or LineCounter()
    reader = csv.reader(
        decoded_lines(f, encoding, path=path, counter=counter, check=check),
        delimiter=delimiter,
        strict=True,
    )
    prev_end = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise RegisterFileError(f"malformed CSV: {exc}", line=counter.line, path=path) from None
        end = counter.line
        if fields:  # blank lines carry no record
            yield Record(prev_end + 1, end, fields)
        prev_end = end


def folded_column(name: str) -> str:
    """A column name without case and spacing: registers' own documents spell one column
    several ways ("FtP Conditions Exist" / "FTP Conditions Exist", "Specialty1" /
    "Specialty 1"), and a difference of case or spaces never makes another column."""
    return "".join(name.split()).casefold()


class Header:
    """Column positions from a header row; refuses a file whose header lacks a column.
    With ``fold`` the names are compared without case and spacing (see folded_column)."""

    def __init__(
        self, fields: Sequence[str], required: Sequence[str], *, path: str = "", fold: bool = False
    ) -> None:
        self.key: Callable[[str], str] = folded_column if fold else str.strip
        self.names = [name.strip() for name in fields]
        self.index = {self.key(name): i for i, name in enumerate(self.names)}
        missing = [name for name in required if self.key(name) not in self.index]
        if missing:
            raise RegisterFileError(f"missing columns: {', '.join(missing)}", line=1, path=path)
        if len(self.index) != len(self.names):
            raise RegisterFileError("duplicate column names in header", line=1, path=path)
        self.width = len(self.names)
        self.path = path

    def position(self, name: str) -> int | None:
        return self.index.get(self.key(name))

    def columns(self, predicate: Callable[[str], bool]) -> list[int]:
        """Positions of the columns whose name satisfies ``predicate``."""
        return [i for i, name in enumerate(self.names) if predicate(name)]

    def row(self, record: Record) -> Row:
        if len(record.fields) != self.width:
            raise RegisterFileError(
                f"expected {self.width} fields, found {len(record.fields)}",
                line=record.start,
                path=self.path,
            )
        return Row(self, record)


class Row:
    __slots__ = ("header", "record")

    def __init__(self, header: Header, record: Record) -> None:
        self.header = header
        self.record = record

    def __getitem__(self, name: str) -> str:
        return self.record.fields[self.header.index[self.header.key(name)]].strip()

    def get(self, name: str) -> str:
        i = self.header.position(name)
        return self.record.fields[i].strip() if i is not None else ""

    def error(self, message: str) -> RegisterFileError:
        return RegisterFileError(message, line=self.record.start, path=self.header.path)


def no_control_characters(text: str, line: int, *, path: str = "") -> None:
    if _CONTROL.search(text):
        raise RegisterFileError("control characters in line (bad encoding?)", line=line, path=path)


@lru_cache(maxsize=1 << 16)
def _date(value: str, formats: tuple[str, ...]) -> date | None:
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def parse_date(value: str, formats: Sequence[str], *, line: int, path: str = "") -> date | None:
    """A date in one of ``formats`` (cached: register files repeat dates a lot)."""
    value = value.strip()
    if not value:
        return None
    parsed = _date(value, tuple(formats))
    if parsed is None:
        raise RegisterFileError(f"bad date {value!r}", line=line, path=path)
    return parsed
