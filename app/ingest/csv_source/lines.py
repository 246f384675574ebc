"""Bytes to CSV records that remember where they came from.

The standard ``csv`` module parses quoting well but forgets the input: it gives neither the
physical line a record started on nor the text it was made of. We feed it one physical line at
a time (``\\r\\n``, ``\\n`` and old Mac ``\\r`` ends all split) and collect the lines each record
consumed, so every row can be quoted in errors and stored alone in the ingest log. Lines are
decoded one by one from the caller's bytes, so a large file is never held as text.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass

from app.ingest.records import SourceError

_LINE_BYTES = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_LINE_TEXT = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_NON_BLANK = re.compile(rb"\S")
_CHECK_CHUNK = 1 << 20
_PROBE = "\r\n,;\t|\"' AZaz09"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One CSV record as received: ``cells`` is None when its quoting is broken."""

    line: int
    """Physical line number of the record's first line (the file's first line is 1)."""
    text: str
    """The record's text as received, inner line ends kept, the final one removed."""
    cells: list[str] | None
    error: str
    lines: int
    """How many physical lines the record spans."""
    end: int
    """Byte offset just after the record (0 for records read from text)."""

    @property
    def blank(self) -> bool:
        return self.cells is not None and all(not cell.strip() for cell in self.cells)


def line_codec(encoding: str) -> str:
    """The codec that decodes one line: UTF-8 with the BOM handled by us, or the centre's
    encoding. Encodings where ``\\n`` is not the byte 0x0A (UTF-16...) cannot be split into
    lines this way and are a configuration error."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"unknown CSV encoding {encoding!r}") from None
    if name in {"utf-8", "utf-8-sig"}:
        return "utf-8"
    try:
        compatible = _PROBE.encode(name) == _PROBE.encode("ascii")
    except UnicodeError:
        compatible = False
    if not compatible:
        raise ValueError(f"CSV encoding {encoding!r} is not ASCII-compatible; it is not supported")
    return name


def body_start(data: bytes, codec: str) -> int:
    """Where the text starts: after a UTF-8 byte order mark when there is one."""
    return len(codecs.BOM_UTF8) if codec == "utf-8" and data.startswith(codecs.BOM_UTF8) else 0


def is_blank(data: bytes, start: int) -> bool:
    return _NON_BLANK.search(data, start) is None


def line_of(data: bytes, offset: int) -> int:
    """Physical line number (1-based) of the byte at ``offset``, counting all three line ends."""
    crlf = data.count(b"\r\n", 0, offset)
    return data.count(b"\r", 0, offset) + data.count(b"\n", 0, offset) - crlf + 1


def check_decodes(data: bytes, start: int, codec: str, encoding: str, where: str) -> None:
    """Decode the whole input once, in chunks cut at line ends, so a wrong encoding is a
    file-level error naming the byte and line rather than a failure half way through."""
    view = memoryview(data)
    pos, size = start, len(data)
    while pos < size:
        end = min(pos + _CHECK_CHUNK, size)
        if end < size:
            cut = max(data.rfind(b"\n", pos, end), data.rfind(b"\r", pos, end))
            if cut == -1:
                found = data.find(b"\n", end)
                end = size if found == -1 else found + 1
            else:
                end = cut + 1
        try:
            str(view[pos:end], codec)
        except UnicodeDecodeError as exc:
            offset = pos + exc.start
            line = line_of(data, offset)
            bad = data[offset : pos + exc.end].hex(" ")
            raise SourceError(
                f"{where}cannot decode byte(s) 0x{bad} at byte offset {offset} (line {line}) "
                f"as {encoding}: the file is in another encoding or damaged",
                location=f"line {line}",
                code="structure",
            ) from None
        pos = end


class _ByteLines:
    """Iterator of decoded physical lines that records what it handed out."""

    def __init__(self, data: bytes, start: int, codec: str) -> None:
        self._matches = _LINE_BYTES.finditer(data, start)
        self._codec = codec
        self.taken: list[str] = []
        self.end = start

    def __iter__(self) -> _ByteLines:
        return self

    def __next__(self) -> str:
        match = next(self._matches)
        self.end = match.end()
        text = match.group().decode(self._codec)
        self.taken.append(text)
        return text


class _TextLines:
    def __init__(self, text: str) -> None:
        self._matches = _LINE_TEXT.finditer(text)
        self.taken: list[str] = []
        self.end = 0

    def __iter__(self) -> _TextLines:
        return self

    def __next__(self) -> str:
        text = next(self._matches).group()
        self.taken.append(text)
        return text


def _records(
    lines: _ByteLines | _TextLines, first_line: int, delimiter: str
) -> Iterator[RawRecord]:
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    line = first_line
    while True:
        cells: list[str] | None
        try:
            cells, error = next(reader), ""
        except StopIteration:
            return
        except csv.Error as exc:
            cells, error = None, _quoting_message(str(exc))
        if not lines.taken:
            return
        text = "".join(lines.taken)
        yield RawRecord(line, _without_line_end(text), cells, error, len(lines.taken), lines.end)
        line += len(lines.taken)
        lines.taken.clear()


def records_from_bytes(
    data: bytes, *, start: int, first_line: int, codec: str, delimiter: str
) -> Iterator[RawRecord]:
    return _records(_ByteLines(data, start, codec), first_line, delimiter)


def records_from_text(text: str, *, first_line: int, delimiter: str) -> Iterator[RawRecord]:
    return _records(_TextLines(text), first_line, delimiter)


def _without_line_end(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\r", "\n")):
        return text[:-1]
    return text


def _quoting_message(detail: str) -> str:
    if "unexpected end of data" in detail:
        return "a quoted field is never closed (the record runs to the end of the input)"
    return f"broken quoting: {detail}"
