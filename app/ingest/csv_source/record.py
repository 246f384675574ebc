"""One CSV data row as a ``SourceRecord``, and re-reading a stored row for replay.

A row is the unit of ingest: it is stored with its file's header line so that, once the
mapping is fixed, it can be read again alone without the rest of the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.ingest.csv_source.lines import RawRecord, records_from_text
from app.ingest.records import ROOT, Scope, SourceError


@dataclass(frozen=True, slots=True)
class CsvRowError:
    """A row that cannot be read (wrong number of cells, broken quoting): quarantined on its
    own while the rest of the file goes on."""

    line: int
    message: str
    raw: str
    header_line: str = ""

    @property
    def position(self) -> str:
        return f"line {self.line}"

    def as_source_error(self) -> SourceError:
        return SourceError(self.message, location=self.position, code="structure")


class CsvRecord:
    """A data row addressed by column name (exactly as the centre's header spells it).

    Columns the mapping declares but this file lacks read as empty; a name in neither the
    header nor the mapping raises ``KeyError``, because that is a bug in the mapping."""

    __slots__ = (
        "_cells",
        "_known",
        "_read",
        "header_line",
        "kind",
        "line",
        "position",
        "raw_line",
        "rule_key",
    )

    def __init__(
        self,
        *,
        kind: str,
        line: int | None,
        cells: dict[str, str],
        raw_line: str,
        header_line: str,
        known: frozenset[str],
    ) -> None:
        """``known``: every name that may be read, the header's and the mapping's columns."""
        self.kind = "csv"
        self.rule_key = kind
        self.line = line
        self.position = f"line {line}" if line is not None else "stored row"
        self.raw_line = raw_line
        self.header_line = header_line
        self._cells = cells
        self._known = known
        self._read: set[str] = set()

    @classmethod
    def from_stored(
        cls,
        header_line: str,
        row_text: str,
        *,
        delimiter: str,
        kind: str,
        columns: Sequence[str] = (),
        line: int | None = None,
    ) -> CsvRecord:
        return read_row(header_line, row_text, delimiter, kind, columns=columns, line=line)

    def values(self, path: str, scope: Scope = ROOT) -> list[str]:  # noqa: ARG002 (no scopes in CSV)
        if path not in self._known:
            raise KeyError(
                f"column {path!r} is neither in the {self.rule_key} header nor among the "
                f"mapping's columns (header: {', '.join(self._cells)})"
            )
        self._read.add(path)
        value = self._cells.get(path, "").strip()
        return [value] if value else []

    def items(self, path: str, scope: Scope = ROOT) -> list[str]:
        return self.values(path, scope)

    def each(self, path: str, scope: Scope = ROOT) -> list[Scope]:  # noqa: ARG002
        """CSV has no repeating parts: one occurrence, the scope as given."""
        return [scope]

    def unread(self, ignored: Callable[[str], bool] | None = None) -> list[str]:  # noqa: ARG002
        return [
            name for name, value in self._cells.items() if value.strip() and name not in self._read
        ]


def row_from_raw(
    raw: RawRecord,
    header: Sequence[str],
    *,
    kind: str,
    header_line: str,
    known: frozenset[str],
    where: str = "",
    line_known: bool = True,
) -> CsvRecord | CsvRowError:
    """A data record checked against its header: same number of cells, or a row error."""
    where = where or f"line {raw.line}"
    if raw.cells is None:
        return CsvRowError(raw.line, f"{where}: {raw.error}", raw.text, header_line)
    if len(raw.cells) != len(header):
        fewer_more = "fewer" if len(raw.cells) < len(header) else "more"
        return CsvRowError(
            raw.line,
            f"{where} has {len(raw.cells)} cells, {fewer_more} than the "
            f"{len(header)} columns of the header (a missing or extra delimiter?)",
            raw.text,
            header_line,
        )
    return CsvRecord(
        kind=kind,
        line=raw.line if line_known else None,
        cells=dict(zip(header, raw.cells, strict=True)),
        raw_line=raw.text,
        header_line=header_line,
        known=known,
    )


def read_row(
    header_line: str,
    row_text: str,
    delimiter: str,
    kind: str,
    *,
    columns: Sequence[str] = (),
    line: int | None = None,
) -> CsvRecord:
    """Re-read one stored row with its header line (replay). Raises ``SourceError`` when the
    stored text is not exactly one well-formed row for that header."""
    where = f"line {line}" if line is not None else "stored row"
    header_records = list(records_from_text(header_line, first_line=1, delimiter=delimiter))
    if len(header_records) != 1 or header_records[0].cells is None:
        raise SourceError(f"{where}: the stored header line is not one CSV record", where)
    header = [name.strip() for name in header_records[0].cells]
    rows = [
        r
        for r in records_from_text(row_text, first_line=line or 2, delimiter=delimiter)
        if not r.blank
    ]
    if len(rows) != 1:
        raise SourceError(f"{where}: the stored row holds {len(rows)} CSV records, not 1", where)
    row = row_from_raw(
        rows[0],
        header,
        kind=kind,
        header_line=header_line,
        known=frozenset(header).union(columns),
        where=where,
        line_known=line is not None,
    )
    if isinstance(row, CsvRowError):
        raise SourceError(row.message, where)
    return row
