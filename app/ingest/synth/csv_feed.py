"""The CSV feeds: St George's weekly referral extracts (UTF-8 with BOM, ``,``) and
Harefield's monthly procedure extracts (Windows-1252, ``;``, CRLF). Headers and formats are
those of ``docs/centres.md``; a revised row is the same key again in a later file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zlib
from collections.abc import Callable
from pathlib import Path

from app.ingest.synth import centres
from app.ingest.synth.model import Event
from app.ingest.synth.people import Person, invalid_nhs_number, spaced_nhs_number
from app.ingest.synth.units import (
    INVALID_DATE,
    INVALID_NHS,
    UNKNOWN_CODE,
    UNKNOWN_DISPLAY,
    FeedReport,
    Unit,
    impossible_date,
)

ST_GEORGES_HEADER = [
    "Referral ID",
    "NHS No",
    "Hosp No",
    "Surname",
    "Forename",
    "DOB",
    "Sex",
    "Postcode",
    "Date of Referral",
    "Referral Source",
    "Referring Org Code",
    "Reason Code",
    "Reason",
    "Aetiology",
    "Priority",
    "Referred To",
    "Status",
    "Last Updated",
    "Clinic Notes",
]
HAREFIELD_HEADER = [
    "PROC_ID",
    "NHS_NUMBER",
    "MRN",
    "SURNAME",
    "FORENAME",
    "DATE_OF_BIRTH",
    "GENDER",
    "PROC_CODE",
    "PROC_DESC",
    "PROC_DATE",
    "APPROACH",
    "DEVICE",
    "REFERRING_HOSP",
    "REFERRAL_REF",
    "CONSULTANT",
    "THEATRE",
    "OUTCOME",
    "COMMENTS",
]
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SOURCE_NAMES = {
    "GP": "GP",
    "DGH": "DGH Cardiology",
    "TERT": "Tertiary Cardiology",
    "SURG": "Cardiac Surgery",
    "NET": "Network Transfer",
    "INPT": "Inpatient",
    "SURV": "Surveillance",
    "OTH": "Other",
}
STATUS_NAMES = {
    "pending": "Open",
    "accepted": "Open",
    "referred-on": "Referred On",
    "closed": "Closed",
    "rejected": "Rejected",
}
AETIOLOGY_NAMES = {"primary": "Primary", "mixed": "Mixed"}
NOTES = (
    "",
    "",
    "Seen in valve clinic, for TOE",
    "Breathless on exertion; echo: severe MR",
    'Patient asks for "a date as soon as possible"',
    "",
)
APPROACH_NAMES = {
    "STERN": "STERNOTOMY",
    "MINI": "RIGHT MINI-THORACOTOMY",
    "THOR": "THORACOSCOPIC",
    "TF": "TRANSFEMORAL",
    "TS": "TRANSSEPTAL",
    "TA": "TRANSAPICAL",
}


def plan_referrals(_centre: centres.Centre, events: list[Event]) -> list[Unit]:
    return [
        Unit(e.sent, "referrals row", e, seq)
        for seq, e in enumerate(events)
        if e.kind == "referral"
    ]


def plan_procedures(_centre: centres.Centre, events: list[Event]) -> list[Unit]:
    return [
        Unit(e.sent, "procedures row", e, seq)
        for seq, e in enumerate(events)
        if e.kind == "procedure"
    ]


def bad_kinds(_unit: Unit) -> tuple[str, ...]:
    return (INVALID_NHS, INVALID_DATE, UNKNOWN_CODE)


def _pick(key: str, choices: tuple[str, ...]) -> str:
    """A stable choice by key (crc32), so a re-sent row keeps its text."""
    return choices[zlib.crc32(key.encode()) % len(choices)]


def _nhs(person: Person, bad: str | None) -> str:
    return invalid_nhs_number(person.nhs) if bad == INVALID_NHS else person.nhs


def _dmy(day: dt.date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def _dmony(year: int, month: int, day: int) -> str:
    if month == 13:  # no such month to spell: an impossible day of February instead
        month, day = 2, 31
    return f"{day:02d}-{MONTHS[month - 1]}-{year}"


def referral_row(unit: Unit) -> list[str]:
    e, bad = unit.event, unit.bad
    ref = e.referral
    assert ref is not None
    person = e.person
    received = _dmy(ref.received.date())
    if bad == INVALID_DATE:
        year, month, day = impossible_date(ref.received.date())
        received = f"{day:02d}/{month:02d}/{year}"
    reason, reason_text = ref.reason, centres.DISPLAYS[ref.reason]
    if bad == UNKNOWN_CODE:
        reason, reason_text = centres.ST_GEORGES.unknown["reason"], UNKNOWN_DISPLAY["reason"]
    aetiology = ref.aetiology or ""
    return [
        ref.id,
        spaced_nhs_number(_nhs(person, bad)),
        e.mrn,
        person.family,
        person.given,
        _dmy(person.birth_date),
        "Male" if person.sex == "male" else "Female",
        person.postcode,
        received,
        SOURCE_NAMES[ref.source],
        ref.referrer_ods,
        reason,
        reason_text,
        "Secondary" if aetiology.startswith("secondary") else AETIOLOGY_NAMES.get(aetiology, ""),
        "Urgent" if ref.priority == "urgent" else "Routine",
        ref.referred_to or "",
        STATUS_NAMES[e.status],
        f"{_dmy(e.sent.date())} {e.sent:%H:%M}",
        _pick(f"{ref.id}|{e.status}", NOTES),
    ]


def procedure_row(unit: Unit) -> list[str]:
    e, bad = unit.event, unit.bad
    proc = e.procedure
    assert proc is not None
    person = e.person
    start = proc.start
    when = f"{_dmony(start.year, start.month, start.day)} {start:%H:%M}"
    if bad == INVALID_DATE:
        when = f"{_dmony(*impossible_date(start.date()))} {start:%H:%M}"
    code, text = proc.code, centres.DISPLAYS[proc.code]
    if bad == UNKNOWN_CODE:
        code, text = centres.HAREFIELD.unknown["procedure"], UNKNOWN_DISPLAY["procedure"]
    family, given, title = proc.consultant
    transcatheter = proc.approach in ("TF", "TS", "TA") or proc.approach is None
    born = person.birth_date
    return [
        proc.id,
        _nhs(person, bad),
        e.mrn,
        person.family.upper(),
        person.given,
        _dmony(born.year, born.month, born.day),
        "M" if person.sex == "male" else "F",
        code,
        text,
        when,
        APPROACH_NAMES.get(proc.approach or "", ""),
        _device(proc.device, proc.modality, proc.id),
        proc.hub_site,
        proc.order_id,
        f"{title} {given[0]} {family.title()}",
        _pick(
            proc.id, ("CATH LAB 1", "CATH LAB 2") if transcatheter else ("TH1", "TH2", "TH3", "TH4")
        ),
        "Abandoned" if proc.outcome == "stopped" else "Completed",
        "Converted to sternotomy" if proc.outcome == "stopped" else "",
    ]


def _device(device: str | None, modality: str, key: str) -> str:
    if device == "CLIP":
        return _pick(key, ("MitraClip G4", "PASCAL Precision"))
    if device == "RING":
        return "Physio II ring"
    if device == "PROS":
        return "Tendyne" if modality == centres.TMVR else "Mosaic bioprosthesis"
    return ""


def _extract_monday(sent: dt.datetime) -> dt.date:
    """St George's extract runs on the Monday after the change."""
    return sent.date() + dt.timedelta(days=7 - sent.weekday())


def write_referrals(_centre: centres.Centre, units: list[Unit], out: Path) -> FeedReport:
    files: dict[str, list[Unit]] = {}
    for unit in units:
        files.setdefault(f"referrals_{_extract_monday(unit.sent):%Y%m%d}.csv", []).append(unit)
    return _write(
        out,
        files=files,
        fmt="csv",
        delimiter=",",
        line_end="\n",
        encoding="utf-8-sig",
        header=ST_GEORGES_HEADER,
        row=referral_row,
    )


def write_procedures(_centre: centres.Centre, units: list[Unit], out: Path) -> FeedReport:
    files: dict[str, list[Unit]] = {}
    for unit in units:
        month = unit.sent - dt.timedelta(days=1)
        files.setdefault(f"procedures_{month:%Y%m}.csv", []).append(unit)
    return _write(
        out,
        files=files,
        fmt="csv",
        delimiter=";",
        line_end="\r\n",
        encoding="cp1252",
        header=HAREFIELD_HEADER,
        row=procedure_row,
    )


def _write(
    out: Path,
    *,
    files: dict[str, list[Unit]],
    fmt: str,
    delimiter: str,
    line_end: str,
    encoding: str,
    header: list[str],
    row: Callable[[Unit], list[str]],
) -> FeedReport:
    report = FeedReport(fmt)
    out.mkdir(parents=True, exist_ok=True)
    for name, units in sorted(files.items()):
        kept = _latest_per_key(units)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end)
        writer.writerow(header)
        for line, unit in enumerate(kept, start=2):
            writer.writerow(row(unit))
            report.count(unit, name, f"line {line}")
        (out / name).write_bytes(buffer.getvalue().encode(encoding))
        report.files.append(name)
    return report


def _latest_per_key(units: list[Unit]) -> list[Unit]:
    """An extract holds a row's latest state: an earlier good row for the same key in the
    same file is superseded (bad rows stay: they are what the centre actually sent)."""
    last: dict[str, int] = {}
    for i, unit in enumerate(units):
        if unit.bad is None:
            last[_key(unit.event)] = i
    return [u for i, u in enumerate(units) if u.bad is not None or last[_key(u.event)] == i]


def _key(event: Event) -> str:
    if event.referral is not None:
        return event.referral.id
    assert event.procedure is not None
    return event.procedure.id
