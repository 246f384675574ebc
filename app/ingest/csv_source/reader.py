"""A centre's CSV extract: the header checked against the mapping, then rows streamed.

Problems with the whole file (empty, wrong encoding or delimiter, required columns missing,
duplicate or unnamed columns) raise ``SourceError`` at once: no row of such a file can be
trusted. Problems with one row become a ``CsvRowError`` in the stream so the other rows still
go through. Columns the mapping does not know are reported, not fatal: their values show up
in each row's ``unread()``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from app.ingest.csv_source.lines import (
    RawRecord,
    body_start,
    check_decodes,
    is_blank,
    line_codec,
    records_from_bytes,
    records_from_text,
)
from app.ingest.csv_source.record import CsvRecord, CsvRowError, row_from_raw
from app.ingest.records import SourceError

CsvRow = CsvRecord
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(slots=True)
class CsvFile:
    """A checked CSV input. ``rows()`` reads the data rows lazily, every time from the start,
    so a file of any size costs one row at a time on top of its bytes."""

    kind: str
    header: list[str]
    header_line: str
    """The header's text as received (no BOM, no line end): stored with each row for replay."""
    delimiter: str
    source_name: str = ""
    problems: list[SourceError] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    _data: bytes = field(default=b"", repr=False, compare=False)
    _codec: str = field(default="utf-8", repr=False)
    _body: int = field(default=0, repr=False)
    _body_line: int = field(default=2, repr=False)

    def rows(self) -> Iterator[CsvRecord | CsvRowError]:
        raws = records_from_bytes(
            self._data,
            start=self._body,
            first_line=self._body_line,
            codec=self._codec,
            delimiter=self.delimiter,
        )
        known = frozenset(self.header).union(self.columns)
        for raw in raws:
            if raw.blank:
                continue
            yield row_from_raw(
                raw, self.header, kind=self.kind, header_line=self.header_line, known=known
            )


def read_csv(
    data: bytes,
    *,
    columns: list[str],
    required: list[str],
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
    kind: str,
    source_name: str = "",
) -> CsvFile:
    """Check ``data`` as a ``kind`` extract whose mapping expects ``columns`` (``required``
    among them). Raises ``SourceError`` for file-level problems; ``ValueError`` for an
    unusable configuration (unknown or non ASCII-compatible encoding)."""
    where = f"{source_name}: " if source_name else ""
    codec = line_codec(encoding)
    start = body_start(data, codec)
    if is_blank(data, start):
        raise SourceError(f"{where}the file is empty", location="line 1", code="required")
    check_decodes(data, start, codec, encoding, where)
    raw = _header_record(data, start, codec, delimiter, where)
    header = _checked_names(raw.cells or [], raw.line, where)
    missing = [name for name in required if name not in header]
    if missing or (len(header) == 1 and len(columns) > 1):
        _check_delimiter(
            raw.text,
            header,
            delimiter=delimiter,
            columns=columns,
            required=required,
            where=where,
        )
    if missing:
        raise SourceError(
            f"{where}the header (line {raw.line}) lacks required column(s) {', '.join(missing)}",
            location=f"line {raw.line}",
            code="required",
        )
    return CsvFile(
        kind=kind,
        header=header,
        header_line=raw.text,
        delimiter=delimiter,
        source_name=source_name,
        problems=_header_problems(header, columns, required, raw.line, where),
        columns=list(columns),
        _data=data,
        _codec=codec,
        _body=raw.end,
        _body_line=raw.line + raw.lines,
    )


def _header_record(data: bytes, start: int, codec: str, delimiter: str, where: str) -> RawRecord:
    for raw in records_from_bytes(
        data, start=start, first_line=1, codec=codec, delimiter=delimiter
    ):
        if raw.blank:
            continue
        if raw.cells is None:
            raise SourceError(
                f"{where}the header (line {raw.line}) cannot be read: {raw.error}",
                location=f"line {raw.line}",
            )
        return raw
    raise SourceError(f"{where}the file has no header: every line is blank", location="line 1")


def _checked_names(cells: list[str], line: int, where: str) -> list[str]:
    names = [cell.strip() for cell in cells]
    unnamed = [str(number) for number, name in enumerate(names, start=1) if not name]
    if unnamed:
        raise SourceError(
            f"{where}the header (line {line}) has no name for column(s) {', '.join(unnamed)}",
            location=f"line {line}",
        )
    duplicates = [name for name, count in Counter(names).items() if count > 1]
    if duplicates:
        raise SourceError(
            f"{where}the header (line {line}) repeats column(s) {', '.join(duplicates)}",
            location=f"line {line}",
        )
    return names


def _check_delimiter(
    text: str,
    header: list[str],
    *,
    delimiter: str,
    columns: Sequence[str],
    required: Sequence[str],
    where: str,
) -> None:
    """When the header does not fit the mapping, see whether another common delimiter makes
    it fit: a centre switching to ';' is far likelier than a renamed column set."""
    expected = set(columns) | set(required)
    best, best_score = "", len(expected.intersection(header))
    for candidate in _DELIMITERS:
        if candidate == delimiter or candidate not in text:
            continue
        records = list(records_from_text(text, first_line=1, delimiter=candidate))
        if len(records) != 1 or records[0].cells is None:
            continue
        names = {cell.strip() for cell in records[0].cells}
        score = len(expected & names)
        fits = bool(required) and set(required) <= names
        if score > best_score and (fits or score >= 2):
            best, best_score = candidate, score
    if best:
        raise SourceError(
            f"{where}delimiter looks like {best!r} but this centre sends {delimiter!r}",
            location="line 1",
        )


def _header_problems(
    header: list[str], columns: Sequence[str], required: Sequence[str], line: int, where: str
) -> list[SourceError]:
    problems: list[SourceError] = []
    if not columns:
        return problems
    extra = [name for name in header if name not in columns]
    if extra:
        problems.append(
            SourceError(
                f"{where}the header (line {line}) has column(s) the mapping does not know: "
                f"{', '.join(extra)}; their values are reported as unread",
                location=f"line {line}",
                code="structure",
            )
        )
    absent = [name for name in columns if name not in header and name not in required]
    if absent:
        problems.append(
            SourceError(
                f"{where}the header (line {line}) lacks optional column(s) {', '.join(absent)}; "
                "they read as empty",
                location=f"line {line}",
                code="incomplete",
            )
        )
    return problems
