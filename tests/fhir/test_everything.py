"""``Patient/{id}/$everything``: the record, what it references, its filters, paging and
errors (access control off here; tests/auth/enforcement covers tokens)."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tests.factories import (
    all_pages,
    assert_outcome,
    organization,
    patient,
    procedure,
    put_resource,
    referral,
)

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _echo(res_id: str, subject: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": res_id,
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "imaging"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "59281-2"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": when,
    }


def _record() -> list[dict[str, Any]]:
    """Patient ev1 (GP practice, a referral by a GP, two echoes, a TEER, an MDT) and
    patient ev2 with an echo of its own."""
    gp = {
        "resourceType": "Practitioner",
        "id": "gp-1",
        "name": [{"family": "Mensah", "given": ["Kofi"], "prefix": ["Dr"]}],
    }
    return [
        {**organization("G85001", "Lambeth Walk Group Practice"), "id": "org-gp"},
        gp,
        {
            **patient("9000000009", "Okafor"),
            "id": "ev1",
            "managingOrganization": {"reference": "Organization/org-gp"},
        },
        {**patient("9434765919", "Hughes"), "id": "ev2"},
        {**referral("Patient/ev1", requester="Practitioner/gp-1"), "id": "ev1-ref"},
        _echo("ev1-echo-1", "Patient/ev1", "2026-09-20T10:00:00Z"),
        _echo("ev1-echo-2", "Patient/ev1", "2026-12-01T10:00:00Z"),
        {**procedure("Patient/ev1"), "id": "ev1-teer"},
        {
            "resourceType": "Encounter",
            "id": "ev1-mdt",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/ev1"},
        },
        _echo("ev2-echo", "Patient/ev2", "2026-10-01T10:00:00Z"),
    ]


async def _store(client: AsyncClient) -> None:
    for resource in _record():
        await put_resource(client, resource)


def _keys(body: dict[str, Any], mode: str = "match") -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in body.get("entry", [])
        if e.get("search", {}).get("mode") == mode
    ]


EV1 = [
    "Patient/ev1",
    "Encounter/ev1-mdt",
    "Observation/ev1-echo-1",
    "Observation/ev1-echo-2",
    "Procedure/ev1-teer",
    "ServiceRequest/ev1-ref",
]


async def test_the_record_of_one_patient_and_what_it_references(client: AsyncClient) -> None:
    await _store(client)
    response = await client.get("Patient/ev1/$everything")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["resourceType"], body["type"], body["total"]) == ("Bundle", "searchset", 6)
    assert _keys(body) == EV1  # the Patient first, then type by type
    assert sorted(_keys(body, "include")) == ["Organization/org-gp", "Practitioner/gp-1"]
    assert body["entry"][0]["fullUrl"] == "http://testserver/fhir/Patient/ev1"
    assert [link["relation"] for link in body["link"]] == ["self"]


async def test_type_since_and_care_dates_narrow_the_record(client: AsyncClient) -> None:
    await _store(client)
    typed = await client.get("Patient/ev1/$everything", params={"_type": "Observation,Procedure"})
    assert _keys(typed.json()) == [
        "Observation/ev1-echo-1",
        "Observation/ev1-echo-2",
        "Procedure/ev1-teer",
    ]
    dated = await client.get("Patient/ev1/$everything", params={"start": "2026-11-01"})
    # Observations have a care date (`date`): the September echo drops out; a
    # ServiceRequest has none, so it stays.
    assert "Observation/ev1-echo-1" not in _keys(dated.json())
    assert {"Observation/ev1-echo-2", "ServiceRequest/ev1-ref"} <= set(_keys(dated.json()))
    since = await client.get("Patient/ev1/$everything", params={"_since": "2999-01-01"})
    assert _keys(since.json()) == ["Patient/ev1"]


async def test_pages_through_next_links_cover_the_record_once(client: AsyncClient) -> None:
    await _store(client)
    pages = await all_pages(client, "Patient/ev1/$everything", params={"_count": "2"})
    assert len(pages) == 3
    assert all(page["total"] == 6 for page in pages)
    assert [key for page in pages for key in _keys(page)] == EV1


async def test_deleted_resources_and_other_patients_are_not_in_it(client: AsyncClient) -> None:
    await _store(client)
    assert (await client.delete("Observation/ev1-echo-1")).status_code in (200, 204)
    body = (await client.get("Patient/ev1/$everything")).json()
    assert "Observation/ev1-echo-1" not in _keys(body)
    assert not any("ev2" in key for key in _keys(body) + _keys(body, "include"))


async def test_post_with_a_parameters_body(client: AsyncClient) -> None:
    await _store(client)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "_type", "valueString": "Encounter"}],
    }
    response = await client.post("Patient/ev1/$everything", json=parameters)
    assert response.status_code == 200, response.text
    assert _keys(response.json()) == ["Encounter/ev1-mdt"]


async def test_bad_calls_get_an_outcome_naming_the_input(client: AsyncClient) -> None:
    await _store(client)
    unknown = await client.get("Patient/nobody/$everything")
    assert_outcome(unknown, 404, "not-found")
    for params, where in (
        ({"_type": "Observation,Nonsense"}, "_type"),
        ({"_since": "last tuesday"}, "_since"),
        ({"end": "2026-13-01"}, "end"),
        ({"_count": "0"}, "_count"),
    ):
        response = await client.get("Patient/ev1/$everything", params=params)
        assert_outcome(response, 400, "invalid")
        assert response.json()["issue"][0]["expression"] == [where], params
    type_level = await client.get("Patient/$everything")
    assert_outcome(type_level, 400, "invalid")
