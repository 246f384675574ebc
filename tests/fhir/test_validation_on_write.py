"""Validation on write: the write policy per source, 422 with the full outcome, warnings back."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from app.config import Settings
from app.errors import Unprocessable
from app.fhir.resource_body import validate_for_write
from app.main import StartupError, create_app
from tests.conftest import Backend, empty_tables

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "profiles" / "examples"
MV = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/"
NARRATIVE = {
    "status": "generated",
    "div": '<div xmlns="http://www.w3.org/1999/xhtml">Mitral valve referral</div>',
}


def example(kind: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / kind / name).read_text())
    return data


def referral(**changes: Any) -> dict[str, Any]:
    """The MV-Referral example, with narrative so it draws no dom-6 warning."""
    resource = example("valid", "MV-Referral.json")
    resource["text"] = NARRATIVE
    resource.pop("id")
    for key, value in changes.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    return resource


def issues_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    found: list[dict[str, Any]] = body["issue"]
    return found


def reports_missing(issues: list[dict[str, Any]], root: str, element: str) -> bool:
    """An error about an absent ``element``: reported on its parent (as the HL7 validator
    does, naming the element) or on the element itself."""
    return any(
        i["severity"] == "error"
        and (
            f"{root}.{element}" in i.get("expression", ())
            or (root in i.get("expression", ()) and element in i["diagnostics"])
        )
        for i in issues
    )


async def count(client: httpx.AsyncClient, res_type: str) -> int:
    total: int = (await client.get(res_type, params={"_summary": "count"})).json()["total"]
    return total


# --- the REST API (source "api"): profiles claimed in meta.profile are enforced -------------


async def test_a_conforming_referral_is_created(client):
    response = await client.post("ServiceRequest", json=referral())
    assert response.status_code == 201, response.text
    assert response.json()["authoredOn"] == "2026-10-05T09:30:00+01:00"
    assert "x-fhir-request-validation" not in response.headers


async def test_a_referral_breaking_its_claimed_profile_is_a_422_and_not_stored(client):
    response = await client.post("ServiceRequest", json=referral(authoredOn=None))
    assert response.status_code == 422, response.text
    issues = issues_of(response)
    assert reports_missing(issues, "ServiceRequest", "authoredOn"), issues
    assert await count(client, "ServiceRequest") == 0


async def test_the_422_carries_every_issue_worst_first(client):
    outside = {"system": "http://snomed.info/sct", "code": "53059001"}  # not a referral code
    bad = referral(authoredOn=None, code={"coding": [outside]})
    bad.pop("text")
    response = await client.post("ServiceRequest", json=bad)
    assert response.status_code == 422
    issues = issues_of(response)
    severities = [i["severity"] for i in issues]
    assert reports_missing(issues, "ServiceRequest", "authoredOn")
    assert any(
        i["severity"] == "error" and i.get("expression") == ["ServiceRequest.code"] for i in issues
    )
    assert "warning" in severities  # dom-6, reported with the errors
    order = ["fatal", "error", "warning", "information"]
    assert severities == sorted(severities, key=order.index)


async def test_base_rules_apply_to_unprofiled_resources(client):
    response = await client.post(
        "Patient", json={"resourceType": "Patient", "text": NARRATIVE, "gender": "f"}
    )
    assert response.status_code == 422, response.text
    assert ["Patient.gender"] in [i.get("expression") for i in issues_of(response)]


async def test_structural_errors_stay_a_400(client):
    response = await client.post("Patient", json={"resourceType": "Patient", "birthDate": "x"})
    assert response.status_code == 400


async def test_warnings_come_back_with_prefer_return_operation_outcome(client):
    resource = referral(text=None)  # no narrative: dom-6 warning
    resource["meta"]["profile"].append("https://example.org/StructureDefinition/unknown")
    response = await client.post(
        "ServiceRequest", json=resource, headers={"Prefer": "return=OperationOutcome"}
    )
    assert response.status_code == 201, response.text
    issues = issues_of(response)
    assert [i["severity"] for i in issues] == ["information", "warning", "warning"]
    assert issues[0]["diagnostics"].startswith("Created ServiceRequest/")
    assert any("unknown" in i["diagnostics"] for i in issues)
    assert response.headers["Location"].endswith("/_history/1")


async def test_warnings_are_named_in_headers_whatever_the_body(client):
    response = await client.post("ServiceRequest", json=referral(text=None))
    assert response.status_code == 201
    assert response.json()["resourceType"] == "ServiceRequest"
    headers = response.headers.get_list("x-fhir-request-validation")
    assert len(headers) == 1
    assert headers[0].startswith("warning ServiceRequest")


async def test_an_update_that_breaks_the_profile_is_a_422_and_keeps_the_version(client):
    created = (await client.post("ServiceRequest", json=referral())).json()
    broken = dict(created)
    del broken["performer"]
    response = await client.put(f"ServiceRequest/{created['id']}", json=broken)
    assert response.status_code == 422, response.text
    assert reports_missing(issues_of(response), "ServiceRequest", "performer"), response.text
    current = (await client.get(f"ServiceRequest/{created['id']}")).json()
    assert current["meta"]["versionId"] == "1"


async def test_an_update_returns_its_warnings(client):
    created = (await client.post("ServiceRequest", json=referral())).json()
    created.pop("text")
    response = await client.put(
        f"ServiceRequest/{created['id']}",
        json=created,
        headers={"Prefer": "return=OperationOutcome"},
    )
    assert response.status_code == 200
    assert [i["severity"] for i in issues_of(response)] == ["information", "warning"]


async def test_a_patch_that_breaks_the_profile_is_a_422(client):
    created = (await client.post("ServiceRequest", json=referral())).json()
    response = await client.patch(
        f"ServiceRequest/{created['id']}",
        content=orjson.dumps([{"op": "remove", "path": "/authoredOn"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 422, response.text
    assert reports_missing(issues_of(response), "ServiceRequest", "authoredOn"), response.text


def bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
            for r in resources
        ],
    }


async def test_a_transaction_with_one_bad_entry_is_a_422_naming_it_and_stores_nothing(client):
    organization = {
        "resourceType": "Organization",
        "text": NARRATIVE,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RJ1"}],
        "name": "Guy's and St Thomas' NHS Foundation Trust",
    }
    response = await client.post(
        "", json=bundle("transaction", organization, referral(authoredOn=None))
    )
    assert response.status_code == 422, response.text
    issues = issues_of(response)
    assert reports_missing(issues, "Bundle.entry[1].resource", "authoredOn"), issues
    assert all(e.startswith("Bundle.entry[1]") for i in issues for e in i.get("expression", ()))
    assert await count(client, "Organization") == 0


async def test_a_patch_in_a_transaction_is_checked_too(client):
    created = (await client.post("ServiceRequest", json=referral())).json()
    patch = base64.b64encode(orjson.dumps([{"op": "remove", "path": "/authoredOn"}])).decode()
    body = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "application/json-patch+json",
                    "data": patch,
                },
                "request": {"method": "PATCH", "url": f"ServiceRequest/{created['id']}"},
            }
        ],
    }
    response = await client.post("", json=body)
    assert response.status_code == 422, response.text
    assert reports_missing(issues_of(response), "Bundle.entry[0].resource", "authoredOn")


async def test_a_batch_answers_422_for_the_bad_entry_and_warnings_for_the_good(client):
    response = await client.post(
        "", json=bundle("batch", referral(authoredOn=None), referral(text=None))
    )
    assert response.status_code == 200, response.text
    first, second = response.json()["entry"]
    assert first["response"]["status"].startswith("422")
    assert first["response"]["outcome"]["issue"][0]["severity"] == "error"
    assert second["response"]["status"].startswith("201")
    assert second["response"]["outcome"]["issue"][0]["severity"] == "warning"


# --- the policy: per source, from settings --------------------------------------------------


@pytest.fixture
async def structural_client(backend: Backend, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The service with the REST API on structural checks only (the pre-profile behaviour)."""
    await empty_tables(app)
    application = create_app(backend.settings(validate_on_write='{"api": "structural"}'))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver/fhir/"
        ) as client:
            yield client


async def test_a_structural_policy_stores_what_the_profile_rejects(structural_client):
    response = await structural_client.post("ServiceRequest", json=referral(authoredOn=None))
    assert response.status_code == 201, response.text


async def ingest(app: FastAPI, resource: dict[str, Any], source: str = "ingest:RJ1") -> list[Any]:
    return await validate_for_write(app.state.fhir, resource, source)


async def test_ingest_requires_the_regional_profile_even_when_none_is_claimed(app):
    patient = {
        "resourceType": "Patient",
        "text": NARRATIVE,
        "identifier": [{"system": "https://fhir.gstt.nhs.uk/Id/mrn", "value": "GST4471203"}],
    }  # valid R4, but MV-Patient needs the NHS number
    with pytest.raises(Unprocessable) as raised:
        await ingest(app, patient)
    assert raised.value.status == 422
    assert all(i.expression for i in raised.value.all_issues() if i.severity == "error")
    assert await validate_for_write(app.state.fhir, patient, "api") == []


async def test_ingest_accepts_a_conforming_patient(app):
    patient = example("valid", "MV-Patient.json")
    del patient["meta"]
    patient["text"] = NARRATIVE
    warnings = await ingest(app, patient)  # no Unprocessable: it conforms
    assert all(i.severity == "warning" for i in warnings)


async def test_an_ingested_service_request_may_be_a_referral_or_an_intervention_request(app):
    for name in ("MV-Referral.json", "MV-InterventionRequest.json"):
        request = example("valid", name)
        del request["meta"]
        request["text"] = NARRATIVE
        assert [i for i in await ingest(app, request) if i.severity == "error"] == []
    with pytest.raises(Unprocessable) as raised:
        await ingest(app, referral(meta=None, authoredOn=None, requester=None))
    headline = raised.value.all_issues()[0].diagnostics
    assert "MV-Referral" in headline
    assert "MV-InterventionRequest" in headline


def test_sources_fall_back_from_centre_to_kind_to_star():
    settings = Settings(
        validate_on_write='{"ingest": "structural", "*": "profiles"}',
        required_profiles='{"ingest:RJ1": {"Patient": "' + MV + 'MV-Patient"}}',
    )
    assert settings.write_level("ingest:RJ7") == "structural"
    assert settings.write_level("api") == "profiles"
    assert settings.required_profiles_for("ingest:RJ1", "Patient") == (MV + "MV-Patient",)
    assert settings.required_profiles_for("ingest:RJ7", "Patient") == ()


def test_the_default_policy_leaves_the_api_open_and_ingest_profiled():
    settings = Settings()
    assert settings.required_profiles_for("api", "ServiceRequest") == ()
    assert settings.required_profiles_for("ingest:RYJ", "ServiceRequest") == (
        MV + "MV-Referral",
        MV + "MV-InterventionRequest",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("validate_on_write", "{api: structural}"),
        ("validate_on_write", '{"api": "everything"}'),
        ("validate_on_write", '["api"]'),
        ("required_profiles", '{"api": ["Patient"]}'),
        ("required_profiles", '{"api": {"Patient": []}}'),
    ],
)
def test_a_malformed_policy_is_refused_naming_the_setting(field, value):
    with pytest.raises(ValidationError) as raised:
        Settings(**{field: value})
    assert field in str(raised.value)


async def test_a_required_profile_for_another_type_stops_start_up(backend):
    required = {"api": {"Patient": MV + "MV-Referral"}}
    application = create_app(backend.settings(required_profiles=json.dumps(required)))
    with pytest.raises(StartupError, match="MV-Referral is a profile of ServiceRequest"):
        async with application.router.lifespan_context(application):
            pass


async def test_a_required_profile_we_do_not_hold_stops_start_up(backend):
    application = create_app(
        backend.settings(required_profiles='{"api": {"Patient": "https://example.org/none"}}')
    )
    with pytest.raises(StartupError, match=r"https://example\.org/none"):
        async with application.router.lifespan_context(application):
            pass


async def test_a_broken_profile_file_stops_start_up_naming_it(backend, tmp_path):
    broken = {"resourceType": "StructureDefinition", "url": MV + "MV-Broken", "snapshot": 3}
    (tmp_path / "StructureDefinition-MV-Broken.json").write_text(json.dumps(broken))
    application = create_app(backend.settings(profiles_dir=tmp_path, required_profiles="{}"))
    with pytest.raises(StartupError, match=r"StructureDefinition-MV-Broken\.json"):
        async with application.router.lifespan_context(application):
            pass
