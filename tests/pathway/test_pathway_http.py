"""``Patient/{id}/$pathway`` and CarePlan search through HTTP (httpx and fhirpy), on both
backends: the answer's shape and values, its errors, and that it is never staler than the
store (a queued patient is derived by the call itself)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from fastapi import FastAPI

from app.fhir.operations.pathway import DEFINITION
from app.fhir.resource_body import check_resource
from tests.conftest import Backend
from tests.pathway import builders as b
from tests.pathway import pathway_http as h
from tests.pathway.live_server import served

OPERATION = Path(__file__).resolve().parents[2] / "app" / "fhir" / "operations" / "definitions"
STAGE = b.STAGE
SITE = "https://fhir.nhs.uk/Id/ods-site-code"


async def _journey(client: httpx.AsyncClient) -> dict[str, object]:
    pat = b.patient()
    await h.put(client, pat)
    await h.put_all(client, b.regional_journey(pat))
    return pat


async def test_pathway_of_a_journey_across_four_centres(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    pat = await _journey(client)  # no drain: the call derives the queued patient
    with h.fixed_today(app):
        body = await h.pathway(client, str(pat["id"]))
    assert body["parameter"][0] == {
        "name": "patient",
        "valueReference": {"reference": f"Patient/{pat['id']}"},
    }
    (ep,) = h.episodes(body)
    (careplan,) = h.careplans(body)
    assert ep["careplan"] == f"CarePlan/{careplan['id']}"
    assert {k: ep[k] for k in ("number", "status", "stage", "referred", "mdt", "decision")} == {
        "number": 1,
        "status": "completed",
        "stage": "discharged",
        "referred": "2025-01-06",
        "mdt": "2025-02-10",
        "decision": "decision-transcatheter-repair",
    }
    assert (ep["treated"], ep["modality"], ep["ended"]) == (
        "2025-03-24",
        "transcatheter-repair",
        "2025-05-12",
    )
    assert "exit" not in ep
    assert ep["centres"] == ["R1H", "RJ122", "RJZ01"]
    assert (ep["wait-referral-to-mdt"], ep["wait-mdt-to-treatment"]) == (35, 42)
    assert ep["wait-referral-to-treatment"] == 77
    assert (ep["rtt-status"], ep["rtt-clock"], ep["rtt-weeks"], ep["within-18-weeks"]) == (
        "90",
        "stopped",
        11,
        True,
    )
    dates = [a["date"] for a in ep["activity"]]
    assert dates == sorted(dates)
    assert [(a["stage"], a["centre"]) for a in ep["activity"]][::3] == [
        ("referred", "RJZ01"),
        ("heart-team-review", "RJ122"),
        ("treatment-scheduled", "R1H"),
    ]
    assert ep["activity"][-1] == {
        "date": "2025-05-12",
        "stage": "follow-up",
        "status": "completed",
        "kind": "follow-up",
        "centre": "RJZ01",
        "reference": f"Encounter/{b.rid('kings', 'Encounter', 'KCH-APT-000102')}",
    }
    assert careplan["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "discharged"
    check_resource(body)  # the Parameters is R4-valid
    validated = await client.post("CarePlan/$validate", json=careplan)
    assert validated.status_code == 200
    assert not [i for i in validated.json()["issue"] if i["severity"] in ("error", "fatal")]
    stored = await client.get(f"CarePlan/{careplan['id']}")
    assert stored.json() == careplan


async def test_post_and_format_give_the_same_answer(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    pat = await _journey(client)
    with h.fixed_today(app):
        got = await h.pathway(client, str(pat["id"]))
        posted = await client.post(f"Patient/{pat['id']}/$pathway")
        empty = await client.post(
            f"Patient/{pat['id']}/$pathway", json={"resourceType": "Parameters"}
        )
        formatted = await client.get(f"Patient/{pat['id']}/$pathway", params={"_format": "json"})
        xml = await client.get(f"Patient/{pat['id']}/$pathway", params={"_format": "xml"})
    assert posted.status_code == empty.status_code == formatted.status_code == 200
    assert posted.json() == empty.json() == formatted.json() == got
    assert xml.status_code == 406


async def test_errors_are_operation_outcomes(client: httpx.AsyncClient) -> None:
    unknown = await client.get("Patient/nobody/$pathway")
    assert unknown.status_code == 404
    assert unknown.json()["resourceType"] == "OperationOutcome"
    pat = b.patient()
    await h.put(client, pat)
    assert (await client.delete(f"Patient/{pat['id']}")).status_code in (200, 204)
    deleted = await client.post(f"Patient/{pat['id']}/$pathway")
    assert deleted.status_code == 404
    assert deleted.json()["issue"][0]["code"] == "not-found"
    for method in ("GET", "POST"):
        typed = await client.request(method, "Patient/$pathway")
        assert typed.status_code == 400, typed.text
        assert typed.json()["issue"][0]["expression"] == ["Patient"]
    bad = await client.post(f"Patient/{pat['id']}/$pathway", json={"resourceType": "Patient"})
    assert bad.status_code == 400


async def test_a_running_clock_counts_to_today(app: FastAPI, client: httpx.AsyncClient) -> None:
    pat = b.patient()
    ref = b.referral(pat, "kings", "KCH-REF-000900", "2025-01-06T10:15:00+00:00")
    await h.put_all(
        client,
        [
            pat,
            ref,
            b.mdt(
                pat, "st-thomas", "GST-ENC-900", "2025-02-10T11:30:00+00:00", "transcatheter-repair"
            ),
        ],
    )
    with h.fixed_today(app, "2025-04-01"):
        (ep,) = h.episodes(await h.pathway(client, pat["id"]))
    assert (ep["status"], ep["stage"]) == ("active", "decision-transcatheter-repair")
    assert (ep["wait-referral-to-mdt"], ep["wait-mdt-to-treatment"]) == (35, 50)
    assert ep["wait-referral-to-treatment"] == 85
    assert (ep["rtt-status"], ep["rtt-clock"], ep["rtt-weeks"], ep["within-18-weeks"]) == (
        "20",
        "running",
        12,
        True,
    )
    with h.fixed_today(app, "2025-06-01"):
        (late,) = h.episodes(await h.pathway(client, pat["id"]))
    assert (late["rtt-weeks"], late["within-18-weeks"]) == (20, False)
    assert "treated" not in late and "ended" not in late


async def test_a_write_after_derivation_shows_at_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    pat = b.patient()
    ref = b.referral(pat, "kings", "KCH-REF-000901", "2025-01-06T10:15:00+00:00")
    await h.put_all(client, [pat, ref])
    await h.derive(app)
    (before,) = h.episodes(await h.pathway(client, pat["id"]))
    assert before["stage"] == "referred"
    await h.put(client, b.clinic(pat, "kings", "KCH-APT-000901", "2025-01-20T09:45:00+00:00"))
    (after,) = h.episodes(await h.pathway(client, pat["id"]))
    assert after["stage"] == "work-up"


async def test_careplan_search_by_stage_centre_date_patient_status(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    done = await _journey(client)
    running = b.patient("9990000492")
    await h.put_all(
        client,
        [running, b.referral(running, "st-georges", "SGH-R-000777", "2025-03-03T09:00:00+00:00")],
    )
    await h.derive(app)

    async def ids(params: dict[str, str]) -> set[str]:
        response = await client.get("CarePlan", params=params)
        assert response.status_code == 200, response.text
        return {e["resource"]["subject"]["reference"] for e in response.json().get("entry", [])}

    one, two = f"Patient/{done['id']}", f"Patient/{running['id']}"
    assert await ids({"current-stage": f"{STAGE}|discharged"}) == {one}
    assert await ids({"current-stage": "referred"}) == {two}
    assert await ids({"centre": f"{SITE}|RJ122"}) == {one}
    assert await ids({"centre": "RJ701"}) == {two}
    assert await ids({"centre": "R1H"}) == {one}
    assert await ids({"date": "ge2025-03-01"}) == {one, two}  # period overlaps
    assert await ids({"date": "lt2025-01-01"}) == set()
    assert await ids({"date": "2025"}) == {one}  # eq: the period lies within 2025
    assert await ids({"date": "gt2025-06-01"}) == {two}  # an open period runs on
    assert await ids({"patient": str(running["id"])}) == {two}
    assert await ids({"subject": one}) == {one}
    assert await ids({"status": "active"}) == {two}
    assert await ids({"status": "completed", "centre": "RJZ01"}) == {one}
    metadata = (await client.get("metadata")).json()
    (careplan,) = [r for r in metadata["rest"][0]["resource"] if r["type"] == "CarePlan"]
    names = {p["name"] for p in careplan["searchParam"]}
    assert {"centre", "current-stage", "date", "patient", "subject", "status"} <= names
    operations = {o["name"]: o["definition"] for o in careplan.get("operation", [])}
    (patient,) = [r for r in metadata["rest"][0]["resource"] if r["type"] == "Patient"]
    assert {"name": "pathway", "definition": DEFINITION} in patient["operation"]
    assert "pathway" not in operations


def test_the_operation_definition_is_r4_valid_and_names_every_output() -> None:
    definition = json.loads((OPERATION / "OperationDefinition-Patient-pathway.json").read_text())
    check_resource(definition)
    assert definition["url"] == DEFINITION
    assert (definition["instance"], definition["type"], definition["resource"]) == (
        True,
        False,
        ["Patient"],
    )
    (episode,) = [p for p in definition["parameter"] if p["name"] == "episode"]
    names = {p["name"] for p in episode["part"]}
    assert {
        "careplan",
        "number",
        "status",
        "stage",
        "referred",
        "mdt",
        "decision",
        "treated",
        "modality",
        "ended",
        "exit",
        "centres",
        "wait-referral-to-mdt",
        "wait-mdt-to-treatment",
        "wait-referral-to-treatment",
        "rtt-status",
        "rtt-clock",
        "rtt-weeks",
        "within-18-weeks",
        "activity",
    } == names


async def test_fhirpy_reads_the_pathway(backend: Backend, client: httpx.AsyncClient) -> None:
    """An independent client (fhirpy, over real HTTP) reads the operation and searches."""
    from fhirpy import AsyncFHIRClient

    pat = await _journey(client)
    with served(backend) as (base, served_app), h.fixed_today(served_app):
        fhir = AsyncFHIRClient(base)
        result = await fhir.execute(f"Patient/{pat['id']}/$pathway", method="get")
        found = await fhir.resources("CarePlan").search(patient=pat["id"]).fetch_all()
        posted = await fhir.execute(
            f"Patient/{pat['id']}/$pathway", method="post", data={"resourceType": "Parameters"}
        )
        record = await fhir.execute(
            f"Patient/{pat['id']}/$everything", method="get", params={"_type": "CarePlan"}
        )
    assert result["resourceType"] == "Parameters"
    assert json.loads(json.dumps(posted)) == json.loads(json.dumps(result))
    (ep,) = h.episodes(json.loads(json.dumps(result)))
    assert (ep["stage"], ep["rtt-status"], ep["wait-referral-to-treatment"]) == (
        "discharged",
        "90",
        77,
    )
    assert [c["id"] for c in found] == [ep["careplan"].split("/")[1]]
    # $everything reaches the same derived CarePlan through the patient compartment.
    matches = [e["resource"]["id"] for e in record["entry"] if e["search"]["mode"] == "match"]
    assert matches == [ep["careplan"].split("/")[1]]
