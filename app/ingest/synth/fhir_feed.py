"""The FHIR feeds: transaction Bundles (st-thomas, royal-brompton; one file per Bundle) and
the pages a poller of Hammersmith's FHIR API receives (one searchset page per file)."""

from __future__ import annotations

import uuid
import zlib
from pathlib import Path
from typing import Any

import orjson

from app.ingest.synth import centres
from app.ingest.synth.fhir_resources import VENDORS, Resources, instant
from app.ingest.synth.model import Event
from app.ingest.synth.units import INVALID_DATE, INVALID_NHS, UNKNOWN_CODE, FeedReport, Unit

NAMESPACE = uuid.UUID("5b3c8f0e-2d4a-4b8e-9a61-7f0d2c1e9b34")
PAGE_SIZE = 100
API_BASE = "https://fhir.imperial.nhs.uk/R4/"
SINCE = "2024-01-01T00:00:00%2B00:00"  # the poller's first watermark, URL-encoded
CODED = ("referral", "order", "appointment", "procedure")
RESOURCE_OF = {
    "referral": "ServiceRequest",
    "order": "ServiceRequest",
    "appointment": "Encounter",
    "procedure": "Procedure",
}


def _label(event: Event) -> str:
    if event.kind == "appointment" and event.appointment is not None:
        return "mdt" if event.appointment.kind == "mdt" else "clinic"
    if event.kind in ("demographics", "death"):
        return "patient-update"
    return event.kind


def plan_bundles(_centre: centres.Centre, events: list[Event]) -> list[Unit]:
    return [
        Unit(e.sent, f"Bundle ({_label(e)})", e, seq)
        for seq, e in enumerate(events)
        if e.kind in (*CODED, "demographics", "death")
    ]


def plan_api(_centre: centres.Centre, events: list[Event]) -> list[Unit]:
    """Each polled resource is a unit; a patient's Patient resource appears when first
    seen and again whenever it changes."""
    units: list[Unit] = []
    seen: set[int] = set()
    for e in events:
        if e.person.index not in seen and e.kind not in ("demographics", "death"):
            seen.add(e.person.index)
            units.append(Unit(e.sent, "Patient", e, len(units), resource="Patient"))
        if e.kind in ("demographics", "death"):
            units.append(Unit(e.sent, "Patient", e, len(units), resource="Patient"))
        elif e.kind in RESOURCE_OF:
            kind = RESOURCE_OF[e.kind]
            units.append(Unit(e.sent, kind, e, len(units), resource=kind))
    return units


def bad_kinds(unit: Unit) -> tuple[str, ...]:
    if unit.resource == "Patient" or unit.event.kind in ("demographics", "death"):
        return (INVALID_NHS, INVALID_DATE)
    return (INVALID_NHS, INVALID_DATE, UNKNOWN_CODE)


def _urn(slug: str, bundle: int, entry: int) -> str:
    """A fullUrl unique per centre, Bundle and entry, without hashing (it only has to be
    stable and unique: the ingest never keeps it)."""
    salt = zlib.crc32(slug.encode())
    return f"urn:uuid:{uuid.UUID(int=(salt << 96) | (bundle << 8) | entry, version=4)}"


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"


def write_bundles(centre: centres.Centre, units: list[Unit], out: Path) -> FeedReport:
    vendor = VENDORS[centre.slug]
    report = FeedReport("fhir-bundle")
    short = "gstt" if centre.slug == "st-thomas" else "rbh"
    made: set[Path] = set()
    for n, unit in enumerate(units, start=1):
        e = unit.event
        build = Resources(centre, e, unit.bad)
        patient_url = _urn(centre.slug, n, 0)
        main = build.main(patient_url)
        patient = build.patient(dated=main is None)
        mrn_system = vendor.ids + "mrn"
        entries = [
            {
                "fullUrl": patient_url,
                "resource": patient,
                "request": {"method": "PUT", "url": f"Patient?identifier={mrn_system}|{e.mrn}"},
            }
        ]
        if main is not None:
            entries.append(
                {
                    "fullUrl": _urn(centre.slug, n, 1),
                    "resource": main,
                    "request": {"method": "POST", "url": main["resourceType"]},
                }
            )
        bundle = {
            "resourceType": "Bundle",
            "identifier": {
                "system": vendor.ids + "bundle",
                "value": f"{vendor.prefix}-BUNDLE-{n:07d}",
            },
            "type": "transaction",
            "timestamp": instant(unit.sent, vendor.utc),
            "entry": entries,
        }
        name = f"{unit.sent:%Y-%m}/{short}-{n:06d}.json"
        folder = out / f"{unit.sent:%Y-%m}"
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        (out / name).write_bytes(_dumps(bundle))
        report.files.append(name)
        report.count(unit, name, "Bundle")
    return report


def write_api(centre: centres.Centre, units: list[Unit], out: Path) -> FeedReport:
    report = FeedReport("fhir-api")
    versions: dict[str, int] = {}
    by_type: dict[str, list[tuple[Unit, dict[str, Any]]]] = {}
    for unit in units:
        e = unit.event
        build = Resources(centre, e, unit.bad)
        patient_id = str(12_700_000 + e.person.index)
        subject = f"Patient/{patient_id}"
        if unit.resource == "Patient":
            resource, vendor_id = build.patient(dated=True), patient_id
        else:
            main = build.main(subject)
            assert main is not None
            resource = main
            vendor_id = str(
                uuid.uuid5(NAMESPACE, f"{unit.resource}|{resource['identifier'][0]['value']}")
            )
        key = f"{unit.resource}/{vendor_id}"
        versions[key] = version = versions.get(key, 0) + 1
        meta = {"versionId": str(version), "lastUpdated": instant(unit.sent, False)}
        resource = {"resourceType": unit.resource, "id": vendor_id, "meta": meta} | resource
        by_type.setdefault(unit.resource, []).append((unit, resource))
    for kind, items in sorted(by_type.items()):
        pages = [items[i : i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)]
        for number, page in enumerate(pages, start=1):
            name = f"{kind}/page-{number:04d}.json"
            query = f"{kind}?_lastUpdated=gt{SINCE}&_sort=_lastUpdated&_count={PAGE_SIZE}"
            links = [{"relation": "self", "url": f"{API_BASE}{query}&page={number}"}]
            if number < len(pages):
                links.append({"relation": "next", "url": f"{API_BASE}{query}&page={number + 1}"})
            bundle = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(items),
                "link": links,
                "entry": [
                    {
                        "fullUrl": f"{API_BASE}{kind}/{resource['id']}",
                        "resource": resource,
                        "search": {"mode": "match"},
                    }
                    for _, resource in page
                ],
            }
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_dumps(bundle))
            report.files.append(name)
            for i, (unit, _) in enumerate(page):
                report.count(unit, name, f"entry[{i}]")
    return report
