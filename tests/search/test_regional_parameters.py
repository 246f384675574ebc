"""Our own SearchParameters (profiles/search-parameters) join the R4 registry.

``Procedure?centre=`` finds procedures by the centre they were performed for
(performer.onBehalfOf), which R4's ``performer`` (performer.actor) cannot: the regional
dashboard's "procedures by centre and date".
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.search.parameters import parameters_for
from tests.factories import put_resource, search_ids

ROOT = Path(__file__).resolve().parent.parent.parent
URL = "https://fhir.southlondon-mitral.nhs.uk/SearchParameter/Procedure-centre"


def _procedure(res_id: str, centre: str, when: str) -> dict[str, object]:
    return {
        "resourceType": "Procedure",
        "id": res_id,
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": when,
        "performer": [
            {
                "actor": {"reference": "Practitioner/surgeon-1"},
                "onBehalfOf": {"reference": f"Organization/{centre}"},
            }
        ],
    }


def test_the_vendored_regional_parameters_are_current():
    result = subprocess.run(
        [sys.executable, "scripts/vendor_definitions.py", "--regional-only", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_regional_parameter_is_in_the_registry():
    centre = parameters_for("Procedure")["centre"]
    assert (centre.url, centre.type, centre.targets) == (URL, "reference", ("Organization",))


async def test_search_procedures_by_centre_and_date(client):
    for res_id, centre, when in [
        ("p-rbh-1", "RT3", "2026-03-02"),
        ("p-rbh-2", "RT3", "2025-12-01"),
        ("p-gst-1", "RJ1", "2026-03-05"),
    ]:
        await put_resource(client, _procedure(res_id, centre, when))
    assert await search_ids(client, "Procedure", ("centre", "Organization/RT3")) == [
        "p-rbh-1",
        "p-rbh-2",
    ]
    got = await search_ids(client, "Procedure", ("centre", "RT3"), ("date", "ge2026"))
    assert got == ["p-rbh-1"]
    # R4's performer is the actor, not the centre
    assert await search_ids(client, "Procedure", ("performer", "Organization/RT3")) == []


async def test_capability_statement_names_our_definition(client):
    statement = (await client.get("metadata")).json()
    procedure = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Procedure")
    params = {p["name"]: p for p in procedure["searchParam"]}
    assert params["centre"]["definition"] == URL
