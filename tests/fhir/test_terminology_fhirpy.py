"""The terminology operations through an independent FHIR client (fhirpy), against the real
server process: what a client library sends must work, not only what our tests send."""

from __future__ import annotations

from typing import Any

import pytest
from fhirpy import AsyncFHIRClient

from tests.server.conftest import Server, server

__all__ = ["server"]  # the fixture, shared with tests/server

pytestmark = pytest.mark.server

BASE = "https://fhir.southlondon-mitral.nhs.uk"
ST_THOMAS = f"{BASE}/CodeSystem/local-st-thomas"


def _parts(parameter: dict[str, Any]) -> dict[str, Any]:
    return {
        p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in parameter["part"]
    }


async def test_fhirpy_expands_a_value_set_and_translates_a_local_code(server: Server):
    fhir = AsyncFHIRClient(server.base)

    expansion = await fhir.execute(
        "ValueSet/$expand",
        method="get",
        params={"url": f"{BASE}/ValueSet/nyha-class", "count": 2},
    )
    translated = await fhir.execute(
        "ConceptMap/local-st-thomas/$translate",
        method="post",
        data={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "coding", "valueCoding": {"system": ST_THOMAS, "code": "RR-MVP"}},
                {"name": "targetsystem", "valueUri": "http://hl7.org/fhir/sid/icd-10-uk"},
            ],
        },
    )

    assert expansion["resourceType"] == "ValueSet"
    assert expansion["expansion"]["total"] == 4
    assert len(expansion["expansion"]["contains"]) == 2
    assert translated["parameter"][0] == {"name": "result", "valueBoolean": True}
    [match] = [_parts(p) for p in translated["parameter"] if p["name"] == "match"]
    assert match["concept"]["code"] == "I34.1"
    assert match["equivalence"] == "equivalent"


async def test_fhirpy_reads_a_published_value_set_by_url(server: Server):
    fhir = AsyncFHIRClient(server.base)

    found = await fhir.resources("ValueSet").search(url=f"{BASE}/ValueSet/mr-conditions").fetch()

    assert [r["id"] for r in found] == ["mr-conditions"]
