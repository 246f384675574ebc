"""Writing one mapped unit inside an open transaction: its resources (regional Patients merged
across centres), A40 merges, one Provenance, and the unit's new status, together.

Every write goes through the same update semantics as the REST API (``app.fhir.writes``), so
an update that changes nothing keeps the version: the same input twice creates no versions
and no second Provenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson

from app.errors import Issue, operation_outcome_bytes
from app.fhir import writes
from app.fhir.context import FhirContext
from app.ingest.mapping.engine import Merge, organization_id, stable_id
from app.ingest.mapping.spec import Spec
from app.ingest.reports import UnitReport
from app.model import fhir_json
from app.search.dates import format_instant
from app.search.request import parse_search
from app.search.sql import find_ids
from app.storage import ingest_log
from app.storage.ingest_log import LoggedUnit
from app.storage.store import StoredVersion, WriteTx

UNIT_SYSTEM = "https://fhir.southlondon-mitral.nhs.uk/Id/ingest-unit"
"""Provenance.entity.what.identifier system: the ingest log's unit id (GET /ingest/units/{id})."""
ODS_ORG = "https://fhir.nhs.uk/Id/ods-organization-code"
MV_ORGANIZATION = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/MV-Organization"
_KIND_LABEL = {"hl7v2": "HL7 v2 message", "csv": "CSV row", "fhir": "FHIR Bundle"}


@dataclass
class UnitWrite:
    unit: LoggedUnit
    spec: Spec
    resources: list[dict[str, Any]] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


def _merge_patient(current: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """One regional Patient per NHS number: this centre's elements replace the stored ones,
    elements it did not send are kept, and every centre's identifiers are kept."""
    merged = {k: v for k, v in current.items() if k not in ("meta",)}
    merged.update(incoming)
    seen: set[tuple[Any, Any]] = set()
    identifiers: list[Any] = []
    for ident in [*incoming.get("identifier", []), *current.get("identifier", [])]:
        key = (ident.get("system"), ident.get("value"))
        if key not in seen:
            seen.add(key)
            identifiers.append(ident)
    if identifiers:
        merged["identifier"] = identifiers
    meta = dict(current.get("meta") or {})
    meta.update(incoming.get("meta") or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        merged["meta"] = meta
    return merged


def _replace_refs(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {
            k: (new if k == "reference" and v == old else _replace_refs(v, old, new))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_replace_refs(v, old, new) for v in value]
    return value


class _Tally:
    """What one unit did to each resource it wrote, as if the unit had its own transaction.

    A chunk writes many units in one transaction with one ``now``, so a version another
    unit of the chunk wrote looks as fresh as this unit's own; only the versions this unit
    wrote count as its updates (and its Provenance targets)."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.updated: list[str] = []
        self.unchanged: list[str] = []
        self.targets: list[str] = []
        self._written: set[tuple[str, str]] = set()

    def add(self, outcome: writes.WriteOutcome, before: StoredVersion | None) -> None:
        """``before``: the current version the write started from."""
        key = (outcome.res_type, outcome.res_id)
        if before is None or outcome.version_id != before.version_id:
            self._written.add(key)  # a new version (update keeps it when nothing changed)
        ref = f"{outcome.res_type}/{outcome.res_id}"
        if outcome.status == HTTPStatus.CREATED:
            self.created.append(ref)
        elif key in self._written:
            self.updated.append(ref)
        else:
            self.unchanged.append(ref)
            return
        self.targets.append(f"{ref}/_history/{outcome.version_id}")


async def _put(tx: WriteTx, resource: dict[str, Any], now: int, tally: _Tally) -> None:
    res_type, res_id = resource["resourceType"], resource["id"]
    current = await tx.current(res_type, res_id)
    if (
        res_type == "Patient"
        and current is not None
        and not current.deleted
        and current.content is not None
    ):
        resource = _merge_patient(fhir_json.loads(current.content), resource)
    outcome = await writes.update(tx, resource, res_id, now=now, method="PUT")
    tally.add(outcome, current)


async def _merge(tx: WriteTx, ctx: FhirContext, merge: Merge, now: int, tally: _Tally) -> None:
    """Move everything that referenced the retired Patient(s) to the survivor; the retired
    record stays, inactive, linked ``replaced-by`` (history keeps what it was)."""
    request = parse_search(
        "Patient",
        [("identifier", f"{merge.retired_system}|{merge.retired_value}")],
        default_count=50,
        max_count=50,
        known_types=ctx.types,
    )
    survivor_id = merge.survivor.split("/", 1)[1]
    retired_ids = list(await find_ids(await tx.connection(), request, limit=50))
    for retired_id in retired_ids:
        if retired_id == survivor_id:
            continue
        old = f"Patient/{retired_id}"
        conn = await tx.connection()
        for res_type, res_id in await ingest_log.referencing(conn, "Patient", retired_id):
            current = await tx.current(res_type, res_id)
            if current is None or current.deleted or current.content is None:
                continue
            moved = _replace_refs(fhir_json.loads(current.content), old, merge.survivor)
            tally.add(await writes.update(tx, moved, res_id, now=now), current)
        current = await tx.current("Patient", retired_id)
        if current is not None and current.content is not None and not current.deleted:
            retired = fhir_json.loads(current.content)
            retired["active"] = False
            retired["link"] = [{"other": {"reference": merge.survivor}, "type": "replaced-by"}]
            tally.add(await writes.update(tx, retired, retired_id, now=now), current)
    survivor = await tx.current("Patient", survivor_id)
    if survivor is not None and survivor.content is not None and not survivor.deleted:
        body = fhir_json.loads(survivor.content)
        links = [
            {"other": {"reference": f"Patient/{r}"}, "type": "replaces"}
            for r in retired_ids
            if r != survivor_id
        ]
        idents = body.get("identifier", [])
        for ident in idents:
            if (ident.get("system"), ident.get("value")) == (
                merge.retired_system,
                merge.retired_value,
            ):
                ident["use"] = "old"
        if not any(
            (i.get("system"), i.get("value")) == (merge.retired_system, merge.retired_value)
            for i in idents
        ):
            idents.append(
                {"use": "old", "system": merge.retired_system, "value": merge.retired_value}
            )
        body["identifier"] = idents
        if links:
            body["link"] = [*body.get("link", []), *links]
        tally.add(await writes.update(tx, body, survivor_id, now=now), survivor)


def _provenance_id(unit_id: str) -> str:
    return stable_id(f"provenance|{unit_id}")


def provenance(item: UnitWrite, targets: list[str], now: int) -> dict[str, Any]:
    unit, spec = item.unit, item.spec
    label = _KIND_LABEL.get(unit.kind, unit.kind)
    where = f" ({unit.source_name}, {unit.position})" if unit.source_name else ""
    org_id = organization_id(spec.ods.organization)
    return {
        "resourceType": "Provenance",
        "id": _provenance_id(unit.unit_id),
        "target": [{"reference": t} for t in targets],
        "recorded": format_instant(now),
        "activity": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                    "code": "UPDATE",
                    "display": "revise",
                }
            ]
        },
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "author",
                            "display": "Author",
                        }
                    ]
                },
                "who": {
                    "reference": f"Organization/{org_id}",
                    "identifier": {"system": ODS_ORG, "value": spec.ods.organization},
                    "display": spec.name,
                },
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {"system": UNIT_SYSTEM, "value": unit.unit_id},
                    "display": f"{label} from {spec.name}{where} via {unit.transport}",
                },
            }
        ],
    }


def centre_organization(spec: Spec) -> dict[str, Any]:
    """The centre's trust as an MV-Organization (Provenance agents point at it)."""
    return {
        "resourceType": "Organization",
        "id": organization_id(spec.ods.organization),
        "meta": {"profile": [MV_ORGANIZATION]},
        "identifier": [{"system": ODS_ORG, "value": spec.ods.organization}],
        "active": True,
        "name": spec.ods.name or spec.name,
    }


async def ensure_organization(tx: WriteTx, spec: Spec, now: int) -> None:
    organization = centre_organization(spec)
    await writes.update(tx, organization, organization["id"], now=now)


def planned_keys(item: UnitWrite) -> list[tuple[str, str]]:
    """The current rows ``write_unit`` will read: prefetched for a whole chunk at once."""
    if item.errors:
        return []
    keys = [(r["resourceType"], r["id"]) for r in item.resources]
    keys.append(("Provenance", _provenance_id(item.unit.unit_id)))
    return keys


async def write_unit(
    tx: WriteTx,
    ctx: FhirContext,
    item: UnitWrite,
    now: int,
    statuses: list[ingest_log.StatusRow],
) -> UnitReport:
    """Write the unit (or queue its quarantine) and return its report; the unit's new
    status goes to ``statuses``, written for the whole chunk by the caller."""
    unit = item.unit
    if item.errors:
        issues = [*item.errors, *item.warnings]
        statuses.append(
            ingest_log.status_row(
                unit.unit_id,
                ingest_log.QUARANTINED,
                outcome=operation_outcome_bytes(issues),
                result=None,
                now=now,
            )
        )
        return UnitReport(unit.unit_id, unit.position, ingest_log.QUARANTINED, issues=issues)
    tally = _Tally()
    for resource in item.resources:
        await _put(tx, resource, now, tally)
    for merge in item.merges:
        await _merge(tx, ctx, merge, now, tally)
    if tally.targets:
        prov = provenance(item, tally.targets, now)
        await writes.update(tx, prov, prov["id"], now=now)
    result = orjson.dumps(
        {"created": tally.created, "updated": tally.updated, "unchanged": tally.unchanged}
    )
    outcome = operation_outcome_bytes(item.warnings) if item.warnings else None
    statuses.append(
        ingest_log.status_row(
            unit.unit_id, ingest_log.MAPPED, outcome=outcome, result=result, now=now
        )
    )
    return UnitReport(
        unit.unit_id,
        unit.position,
        ingest_log.MAPPED,
        created=tally.created,
        updated=tally.updated,
        unchanged=tally.unchanged,
        issues=list(item.warnings),
    )
