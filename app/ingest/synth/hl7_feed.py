"""The HL7 v2 feeds: King's (v2.4, ``\\r`` segments, one message per line) and Barts (v2.5,
``\\r\\n`` segments in monthly FHS/BHS batches). ``docs/centres.md`` is the field reference;
every field written here is listed there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from app.ingest.synth import centres
from app.ingest.synth.model import Event
from app.ingest.synth.people import Person, invalid_nhs_number
from app.ingest.synth.units import (
    INVALID_DATE,
    INVALID_NHS,
    TRUNCATED,
    UNKNOWN_CODE,
    UNKNOWN_DISPLAY,
    FeedReport,
    Unit,
    impossible_date,
)
from app.ingest.synth.vocabularies import (
    APPOINTMENT_REASON,
    APPROACH_TEXT,
    BARTS_AETIOLOGY,
    BARTS_OUTCOME,
    DEVICE_TEXT,
    KINGS_AETIOLOGY,
    KINGS_OUTCOME,
    RF1_STATUS,
    SOURCE_TEXT,
)

CODED = ("referral", "appointment", "order", "procedure")


def esc(text: str) -> str:
    """HL7 v2 escapes for free text (the escape character first)."""
    for raw, escaped in (
        ("\\", "\\E\\"),
        ("|", "\\F\\"),
        ("^", "\\S\\"),
        ("&", "\\T\\"),
        ("~", "\\R\\"),
    ):
        text = text.replace(raw, escaped)
    return text


def seg(name: str, fields: Mapping[int, str | None]) -> str:
    """A segment from its non-empty fields by number (MSH numbering counts MSH-1 as ``|``)."""
    first = 2 if name in ("MSH", "FHS", "BHS") else 1
    parts = [""] * (max(fields) - first + 1)
    for number, value in fields.items():
        if value:
            parts[number - first] = value
    return name + "|" + "|".join(parts)


def ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%d%H%M")


def day(moment: dt.date) -> str:
    return moment.strftime("%Y%m%d")


def message_type(unit_event: Event, centre: str) -> str:
    kind = unit_event.kind
    if kind == "referral":
        return "REF^I12^REF_I12"
    if kind == "appointment":
        return "SIU^S12^SIU_S12"
    if kind == "order":
        return "ORM^O01^ORM_O01" if centre == "kings" else "OMG^O19^OMG_O19"
    if kind == "registration":
        return "ADT^A04^ADT_A01" if unit_event.status == "O" else "ADT^A01^ADT_A01"
    if kind == "admission":
        return "ADT^A01^ADT_A01"
    if kind == "merge":
        return "ADT^A40^ADT_A39"
    return "ADT^A08^ADT_A01"  # procedure, demographics, death


def plan(centre: centres.Centre, events: list[Event]) -> list[Unit]:
    units = []
    for seq, event in enumerate(events):
        kind = "^".join(message_type(event, centre.slug).split("^")[:2])
        units.append(Unit(event.sent, kind, event, seq))
    return units


def bad_kinds(unit: Unit) -> tuple[str, ...]:
    kinds = [INVALID_NHS, INVALID_DATE, TRUNCATED]
    if unit.event.kind in CODED:
        kinds.append(UNKNOWN_CODE)
    return tuple(kinds)


class _Render:
    """One message's segments (without MSH) for one centre."""

    def __init__(self, centre: centres.Centre, unit: Unit) -> None:
        self.centre = centre
        self.kings = centre.slug == "kings"
        self.unit = unit
        self.event = unit.event
        self.bad = unit.bad
        self.coding = "99KCH" if self.kings else "99BHC"

    def when(self, moment: dt.datetime) -> str:
        """A clinical time; the message's main date is the one made impossible."""
        if self.bad == INVALID_DATE:
            year, month, d = impossible_date(moment.date())
            return f"{year:04d}{month:02d}{d:02d}{moment:%H%M}"
        return ts(moment)

    def code(self, code: str, kind: str) -> str:
        if self.bad == UNKNOWN_CODE:
            return f"{self.centre.unknown[kind]}^{UNKNOWN_DISPLAY[kind]}^{self.coding}"
        return f"{code}^{centres.DISPLAYS[code]}^{self.coding}"

    def ident(self, value: str) -> str:
        """An id with its namespace: the issuing centre's prefix (KCH-REF-1 -> KCH)."""
        return f"{value}^{value.split('-', maxsplit=1)[0]}"

    def pid(self, person: Person, mrn: str, dated: bool = False) -> str:
        nhs = invalid_nhs_number(person.nhs) if self.bad == INVALID_NHS else person.nhs
        nhs_id = f"{nhs}^^^NHS^NH"
        mrn_id = f"{mrn}^^^{self.centre.prefix}^MR"
        ids = f"{nhs_id}~{mrn_id}" if self.kings else f"{mrn_id}~{nhs_id}"
        prefix = "Mr" if person.sex == "male" else ("Mrs" if person.index % 3 else "Ms")
        born = day(person.birth_date)
        if dated and self.bad == INVALID_DATE:
            year, month, d = impossible_date(person.birth_date)
            born = f"{year:04d}{month:02d}{d:02d}"
        fields: dict[int, str | None] = {
            1: "1",
            3: ids,
            5: f"{esc(person.family.upper())}^{esc(person.given)}^^^{prefix}",
            7: born,
            8: "M" if person.sex == "male" else "F",
            11: f"{esc(person.street)}^^London^^{person.postcode}^GBR^H",
        }
        if self.event.kind == "death":
            fields[29] = day(self.event.at.date())
            fields[30] = "Y"
        return seg("PID", fields)

    def segments(self) -> list[str]:
        e = self.event
        kind = e.kind
        if kind == "referral":
            return self.referral()
        if kind == "appointment":
            return self.appointment()
        if kind == "order":
            return self.order()
        if kind == "procedure":
            return self.procedure()
        evn = seg("EVN", {1: message_type(e, self.centre.slug).split("^")[1], 2: ts(e.sent)})
        pid = self.pid(e.person, e.mrn, dated=True)
        if kind == "merge":
            return [evn, pid, seg("MRG", {1: f"{e.retired_mrn}^^^{self.centre.prefix}^MR"})]
        pv1: dict[int, str | None] = {
            1: "1",
            2: e.status or "O",
            3: f"CARDIAC^^^{self.centre.prefix}",
        }
        if kind == "admission" and e.procedure is not None:
            pv1[19] = e.procedure.visit
            pv1[44] = ts(e.procedure.admitted)
        elif kind == "registration" and e.status == "I":
            pv1[44] = ts(e.at)
        return [evn, pid, seg("PV1", pv1)]

    def referral(self) -> list[str]:
        e = self.event
        ref = e.referral
        assert ref is not None
        src = f"{ref.source}^{SOURCE_TEXT[ref.source]}^{self.coding}SRC"
        rf1 = {
            1: RF1_STATUS[e.status],
            2: "U^Urgent^HL70280" if ref.priority == "urgent" else "R^Routine^HL70280",
            3: src,
            5: "O^Outpatient^HL70284",
            6: self.ident(ref.id),
            7: self.when(ref.received),
            9: day(e.sent.date()),
            11: f"{ref.ubrn}^eRS" if ref.ubrn else None,
        }
        family, given, title = ref.referrer
        prd = {
            1: "RP^Referring provider^HL70286",
            2: f"{family}^{given}^^^{title}",
            3: f"{esc(ref.referrer_org)}^^London",
            7: f"{ref.referrer_ods}^ODS",
        }
        dg1 = {1: "1", 3: self.code(ref.reason, "reason"), 5: day(ref.received.date()), 6: "W"}
        note = f"Referred for assessment: {centres.DISPLAYS[ref.reason]}."
        return [
            seg("RF1", rf1),
            seg("PRD", prd),
            self.pid(e.person, e.mrn),
            seg("DG1", dg1),
            seg("NTE", {1: "1", 2: "P", 3: esc(note)}),
        ]

    def appointment(self) -> list[str]:
        e = self.event
        appt = e.appointment
        assert appt is not None
        end = appt.start + dt.timedelta(minutes=appt.minutes)
        sch: dict[int, str | None] = {
            1: self.ident(appt.id),
            2: self.ident(appt.id),
            7: f"^{APPOINTMENT_REASON[appt.kind]}",
            25: "Complete" if e.status == "complete" else "Booked",
            26: self.ident(appt.for_id),
        }
        start = self.when(appt.start)
        out = []
        if self.kings:
            sch[11] = f"^^^{start}^{ts(end)}"
            out.append(seg("SCH", sch))
        else:
            out += [seg("SCH", sch), seg("TQ1", {1: "1", 7: start, 8: ts(end)})]
        kind = "procedure" if appt.kind == "procedure" else "clinic"
        out += [
            self.pid(e.person, e.mrn),
            seg("RGS", {1: "1", 2: "A"}),
            seg(
                "AIS",
                {
                    1: "1",
                    2: "A",
                    3: self.code(appt.code, kind),
                    4: start,
                    7: str(appt.minutes),
                    8: "min",
                },
            ),
            seg("AIL", {1: "1", 2: "A", 3: f"{appt.kind.upper()}^^^{self.centre.prefix}"}),
        ]
        if appt.kind == "mdt" and appt.outcome is not None:
            out.append(self.mdt_segment())
        return out

    def mdt_segment(self) -> str:
        appt = self.event.appointment
        assert appt is not None and appt.outcome is not None
        if self.kings:
            fields: dict[int, str | None] = {
                1: "1",
                2: KINGS_OUTCOME[appt.outcome],
                3: KINGS_AETIOLOGY.get(appt.aetiology or ""),
                4: appt.severity,
                5: esc(appt.note) if appt.note else None,
            }
            return seg("ZKC", fields)
        return seg(
            "ZBH",
            {1: "1", 2: BARTS_OUTCOME[appt.outcome], 5: BARTS_AETIOLOGY.get(appt.aetiology or "")},
        )

    def zbh(self, approach: str | None, device: str | None) -> str:
        return seg(
            "ZBH",
            {
                1: "1",
                3: f"{approach}^{APPROACH_TEXT[approach].upper()}" if approach else None,
                4: f"{device}^{DEVICE_TEXT[device]}" if device else None,
            },
        )

    def order(self) -> list[str]:
        e = self.event
        order = e.order
        assert order is not None
        cancelled = e.status == "cancelled"
        family, given, title = order.consultant
        treat = centres.CENTRES[order.treat_centre]
        staff_id = 4471200 + centres.CONSULTANTS.index(order.consultant)
        orc = {
            1: "CA" if cancelled else "NW",
            2: self.ident(order.id),
            4: self.ident(order.referral_id),
            5: "CA" if cancelled else "SC",
            9: self.when(e.at),
            12: f"C{staff_id}^{family}^{given}^^^{title}",
            21: f"{esc(treat.name)}^^^^^^^^^{treat.site}",
        }
        out = [
            self.pid(e.person, e.mrn),
            seg("PV1", {1: "1", 2: "O"}),
            seg("ORC", orc),
            seg("OBR", {1: "1", 2: self.ident(order.id), 4: self.code(order.code, "procedure")}),
        ]
        if not self.kings:
            out.append(self.zbh(order.approach, order.device))
        return out

    def procedure(self) -> list[str]:
        e = self.event
        proc = e.procedure
        assert proc is not None
        pv1 = {
            1: "1",
            2: "I",
            3: f"CARDIAC^^^{self.centre.prefix}",
            19: proc.visit,
            44: ts(proc.admitted),
            45: ts(proc.discharged),
        }
        pr1: dict[int, str | None] = {
            1: "1",
            3: self.code(proc.code, "procedure"),
            5: self.when(proc.start),
            6: "P",
        }
        if self.kings and proc.approach:
            pr1[16] = f"{proc.approach}^{APPROACH_TEXT[proc.approach]}"
        out = [
            seg("EVN", {1: "A08", 2: ts(e.sent)}),
            self.pid(e.person, e.mrn),
            seg("PV1", pv1),
            seg("PR1", pr1),
        ]
        if not self.kings:
            out.append(self.zbh(proc.approach, proc.device))
        return out


def _msh(centre: centres.Centre, unit: Unit, control_id: str) -> str:
    kings = centre.slug == "kings"
    return seg(
        "MSH",
        {
            2: "^~\\&",
            3: "KCH-EPR" if kings else "MILLENNIUM",
            4: centre.prefix,
            5: "MITRAL-FHIR",
            6: "SLMVN",
            7: unit.sent.strftime("%Y%m%d%H%M%S"),
            9: message_type(unit.event, centre.slug),
            10: control_id,
            11: "P",
            12: "2.4" if kings else "2.5",
            15: "AL",
            16: "NE",
            17: "GBR",
            18: "UNICODE UTF-8",
        },
    )


def _truncate(segments: list[str]) -> list[str]:
    """Cut the message off inside PID, as a dropped connection or full disk would."""
    for i, segment in enumerate(segments):
        if segment.startswith("PID|"):
            return [*segments[:i], segment[:14]]
    return segments


def write(centre: centres.Centre, units: list[Unit], out: Path) -> FeedReport:
    """Write the units (already in send order) into monthly files."""
    report = FeedReport("hl7v2")
    kings = centre.slug == "kings"
    months: dict[str, list[str]] = {}
    for n, unit in enumerate(units, start=1):
        control_id = f"KCH{n:08d}" if kings else f"BHC{n:09d}"
        segments = [_msh(centre, unit, control_id), *_Render(centre, unit).segments()]
        if unit.bad == TRUNCATED:
            segments = _truncate(segments)
        name = f"{centre.prefix}_{unit.sent:%Y%m}.hl7"
        terminator = "\r" if kings else "\r\n"
        text = terminator.join(segments) + terminator + ("\n" if kings else "")
        months.setdefault(name, []).append(text)
        report.count(unit, name, f"message {control_id}")
    out.mkdir(parents=True, exist_ok=True)
    for name, messages in sorted(months.items()):
        body = "".join(messages) if kings else _batch(name, messages)
        (out / name).write_bytes(body.encode("utf-8"))
        report.files.append(name)
    return report


def _batch(name: str, messages: list[str]) -> str:
    """Barts wraps each monthly file in one FHS/BHS batch."""
    month = name.split("_")[1][:6]
    stamp = f"{month}01000000"
    head = {2: "^~\\&", 3: "MILLENNIUM", 4: "BHC", 5: "MITRAL-FHIR", 6: "SLMVN", 7: stamp}
    lines = [seg("FHS", {**head, 9: name}), seg("BHS", head)]
    tail = [seg("BTS", {1: str(len(messages))}), seg("FTS", {1: "1"})]
    return "\r\n".join(lines) + "\r\n" + "".join(messages) + "\r\n".join(tail) + "\r\n"
