"""Cutting an input (a file, an HTTP body, an MLLP frame) into units and reading a stored
unit back as source records.

A unit is what is mapped or quarantined as a whole: an HL7 v2 message, a CSV row (stored with
its header line so it can be read alone on replay), a vendor FHIR Bundle or resource. Reading
goes through the stored bytes only, so a replay after a mapping fix reads exactly what the
first attempt read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson

from app.ingest.csv_source import CsvRowError, read_csv, read_row
from app.ingest.fhir_source import read_bundle
from app.ingest.hl7v2.parse import parse_message
from app.ingest.hl7v2.split import split_messages
from app.ingest.mapping.spec import Spec
from app.ingest.records import SourceError, SourceRecord
from app.storage.ingest_log import NewUnit

HL7_TYPES = ("x-application/hl7-v2+er7", "application/hl7-v2", "application/edi-hl7")
CSV_TYPES = ("text/csv",)
FHIR_TYPES = ("application/fhir+json", "application/json")


def unit_id(centre: str, kind: str, context: bytes | None, content: bytes) -> str:
    digest = hashlib.sha256()
    for part in (centre.encode(), kind.encode(), context or b"", content):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Cut:
    """A unit to log, and the reason it cannot be read when that is already known."""

    unit: NewUnit
    problem: SourceError | None = None
    record: SourceRecord | None = None
    """The unit already read while cutting (a CSV row), so mapping need not read it again."""


def kind_for(spec: Spec, media_type: str | None) -> str:
    """The centre's source kind; a media type that contradicts it is a client error."""
    if media_type:
        base = media_type.split(";")[0].strip().lower()
        given = (
            "hl7v2"
            if base in HL7_TYPES
            else "csv"
            if base in CSV_TYPES
            else "fhir"
            if base in FHIR_TYPES
            else None
        )
        if given is None:
            raise SourceError(f"content type {base!r} is not HL7 v2 ER7, CSV or FHIR JSON", "")
        if given != spec.source:
            raise SourceError(
                f"{spec.centre} sends {spec.source}, but this input is {given} ({base})",
                "",
                code="not-supported",
            )
    return spec.source


def cut(
    spec: Spec, content: bytes, *, transport: str, source_name: str | None = None
) -> Iterator[Cut]:
    """The units of one input, in order. Never raises for bad content: an input that cannot
    be cut is one unit with its problem, so it is logged and quarantined, not lost."""

    def new(body: bytes, position: str | None, context: bytes | None = None) -> NewUnit:
        uid = unit_id(spec.centre, spec.source, context, body)
        return NewUnit(
            uid, spec.centre, spec.source, transport, source_name, position, context, body
        )

    if spec.source == "hl7v2":
        for n, message in enumerate(split_messages(content), start=1):
            yield Cut(new(message, f"message {n}"))
        return
    if spec.source == "fhir":
        yield from _fhir_units(content, source_name, new)
        return
    csv = spec.csv
    assert csv is not None
    try:
        parsed = read_csv(
            content,
            columns=csv.columns,
            required=csv.required,
            delimiter=csv.delimiter,
            encoding=csv.encoding,
            kind=csv.kind,
            source_name=source_name or "",
        )
    except SourceError as exc:
        yield Cut(new(content, source_name or "file"), exc)
        return
    header = parsed.header_line.encode("utf-8")
    for row in parsed.rows():
        if isinstance(row, CsvRowError):
            body = row.raw.encode("utf-8")
            problem = SourceError(row.message, f"line {row.line}", code="structure")
            yield Cut(new(body, f"line {row.line}", header), problem)
        else:
            yield Cut(new(row.raw_line.encode("utf-8"), row.position, header), record=row)


def _fhir_units(
    content: bytes, source_name: str | None, new: Callable[[bytes, str | None], NewUnit]
) -> Iterator[Cut]:
    """A transaction Bundle is one unit (all or nothing); a page of a centre's search API
    (``searchset``) is one unit per resource, as polling delivers them."""
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        data = None
    entries = data.get("entry") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("resourceType") != "Bundle"
        or data.get("type") != "searchset"
        or not isinstance(entries, list)
    ):
        yield Cut(new(content, source_name or "bundle"))
        return
    for n, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        mode = (entry.get("search") or {}).get("mode") if isinstance(entry, dict) else None
        if mode in ("include", "outcome"):
            continue
        body = orjson.dumps(resource if resource is not None else entry)
        yield Cut(new(body, f"{source_name or 'page'} Bundle.entry[{n}]"))


def records(
    spec: Spec, kind: str, content: bytes, context: bytes | None, position: str | None = None
) -> list[SourceRecord]:
    """The source records of one stored unit; ``SourceError`` when it cannot be read."""
    if kind == "hl7v2":
        return [parse_message(content)]
    if kind == "fhir":
        return list(read_bundle(content))
    csv = spec.csv
    assert csv is not None
    header = (context or b"").decode("utf-8")
    line = int(position[5:]) if position and position.startswith("line ") else None
    # The mapping's columns too: one the file lacks reads as empty, as when it was cut.
    row = read_row(
        header, content.decode("utf-8"), csv.delimiter, csv.kind, columns=csv.columns, line=line
    )
    return [row]
