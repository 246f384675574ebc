"""The patients the picker offers: a name search through the FHIR search machinery."""

from __future__ import annotations

from typing import Any

import orjson

from app.auth.server.pages import PatientRow
from app.fhir.context import FhirContext
from app.search import sql
from app.search.request import parse_search

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
PICKER_SIZE = 25


def _name(patient: dict[str, Any]) -> str:
    for name in patient.get("name", []):
        if name.get("text"):
            return str(name["text"])
        parts = [*name.get("given", []), name.get("family", "")]
        text = " ".join(p for p in parts if p)
        if text:
            return text
    return f"Patient/{patient.get('id')}"


def _row(patient: dict[str, Any]) -> PatientRow:
    ids = patient.get("identifier", [])
    nhs = next((i.get("value", "") for i in ids if i.get("system") == NHS_NUMBER), "")
    return PatientRow(str(patient["id"]), _name(patient), nhs, patient.get("birthDate", ""))


async def find_patients(ctx: FhirContext, name: str) -> list[PatientRow]:
    params = [("name", name.strip())] if name.strip() else []
    request = parse_search(
        "Patient", params, default_count=PICKER_SIZE, max_count=PICKER_SIZE, known_types=ctx.types
    )
    async with ctx.db.read() as conn:
        page = await sql.search(conn, request)
    return [_row(orjson.loads(m.content)) for m in page.matches]


async def patient_exists(ctx: FhirContext, patient_id: str) -> bool:
    found = await ctx.store.read("Patient", patient_id)
    return found is not None and not found.deleted
