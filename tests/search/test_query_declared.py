"""Every search parameter the CapabilityStatement declares is accepted and runs on SQL.

Guards the contract between the registry (what we claim) and the query side (what we run):
a declared parameter must never be reported unknown, and no type may fail at the database.
"""

from __future__ import annotations

from app.search.param_meta import component_types
from app.search.parameters import parameters_for

SAMPLES = {
    "token": "http://example.org|x",
    "date": "ge2000-01-01",
    "string": "x",
    "uri": "http://example.org/x",
    "number": "1",
    "quantity": "gt1|http://unitsofmeasure.org|mg",
    "reference": "Patient/x",
}


def sample(res_type: str, code: str, kind: str) -> str:
    if code == "_id":
        return "x"
    if kind != "composite":
        return SAMPLES[kind]
    kinds = component_types(parameters_for(res_type)[code])
    return "$".join(SAMPLES[k] for k in kinds)


async def test_every_declared_parameter_runs_strictly_on_an_empty_store(client):
    statement = (await client.get("metadata")).json()
    failures = []
    for resource in statement["rest"][0]["resource"]:
        res_type = resource["type"]
        params = [
            (p["name"], sample(res_type, p["name"], p["type"])) for p in resource["searchParam"]
        ]
        response = await client.get(res_type, params=params, headers={"Prefer": "handling=strict"})
        if response.status_code != 200 or response.json().get("total") != 0:
            failures.append((res_type, response.status_code, response.text[:300]))
    assert failures == []


async def test_every_declared_modifier_free_parameter_accepts_missing(client):
    statement = (await client.get("metadata")).json()
    for resource in statement["rest"][0]["resource"][:40]:
        params = [(f"{p['name']}:missing", "false") for p in resource["searchParam"]]
        response = await client.get(resource["type"], params=params)
        assert response.status_code == 200, (resource["type"], response.text[:300])
