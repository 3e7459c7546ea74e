"""Streaming XML for register files and SOAP answers, on the standard library's expat.

Only the elements asked for are built (as small :class:`Node` trees, namespaces dropped);
everything else streams past. DOCTYPE and entity declarations are refused outright (no
entity expansion, no external entities), and a truncated document is an error that names
the line where the parser stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from xml.parsers import expat

from hub.verification.base import RegisterFileError
from hub.verification.readers import LineCounter

_XSI_NIL = "http://www.w3.org/2001/XMLSchema-instance nil"


@dataclass
class Node:
    tag: str
    line: int
    nil: bool = False
    parts: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "" if self.nil else "".join(self.parts).strip()

    def find(self, tag: str) -> Node | None:
        for child in self.children:
            if child.tag == tag:
                return child
        return None

    def findall(self, tag: str) -> list[Node]:
        return [child for child in self.children if child.tag == tag]

    def text_of(self, tag: str) -> str:
        child = self.find(tag)
        return child.text if child is not None else ""

    def items(self, container: str, item: str) -> list[Node]:
        """``<container><item/>...</container>`` → the items (the SOAP array shape)."""
        box = self.find(container)
        return box.findall(item) if box is not None else []


class _Refused(Exception):
    pass


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def iter_elements(
    f: BinaryIO,
    tags: frozenset[str],
    *,
    path: str = "",
    counter: LineCounter | None = None,
    chunk_size: int = 1 << 16,
) -> Iterator[Node]:
    """Yield every complete element whose local name is in ``tags`` (outermost only)."""
    counter = counter or LineCounter()
    parser = expat.ParserCreate(namespace_separator=" ")
    done: list[Node] = []
    stack: list[Node] = []

    def refuse(*_: object) -> None:
        raise _Refused("DOCTYPE and entity declarations are not accepted")

    def start(name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if stack or tag in tags:
            node = Node(tag, parser.CurrentLineNumber, attrs.get(_XSI_NIL) == "true")
            if stack:
                stack[-1].children.append(node)
            stack.append(node)

    def end(name: str) -> None:
        if stack:
            node = stack.pop()
            if not stack:
                done.append(node)

    def chars(data: str) -> None:
        if stack:
            stack[-1].parts.append(data)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.buffer_text = True

    def feed(data: bytes, final: bool) -> None:
        try:
            parser.Parse(data, final)
        except expat.ExpatError as exc:
            msg = expat.ErrorString(exc.code) if exc.code else "malformed XML"
            raise RegisterFileError(
                f"malformed or truncated XML: {msg}", line=exc.lineno, path=path
            ) from None
        except _Refused as exc:
            raise RegisterFileError(str(exc), line=parser.CurrentLineNumber, path=path) from None
        counter.line = parser.CurrentLineNumber

    for chunk in iter(lambda: f.read(chunk_size), b""):
        counter.bytes_read += len(chunk)
        feed(chunk, False)
        yield from done
        done.clear()
    feed(b"", True)
    yield from done
