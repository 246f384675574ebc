"""build_audit_event: an AccessEvent as an R4 AuditEvent our validator accepts."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi import FastAPI

from app.auth.access import AccessEvent
from app.auth.audit_event import (
    AUDIT_SUBTYPE_SYSTEM,
    CLIENT_ID_SYSTEM,
    RESTFUL_INTERACTION,
    build_audit_event,
)
from tests.auth.audit_events import BASE, access, clinician, system_client


def build(event: AccessEvent) -> dict[str, Any]:
    return build_audit_event(event, base=BASE, observer="mitral-fhir")


def entity_refs(resource: dict[str, Any]) -> list[str]:
    return [e["what"]["reference"] for e in resource.get("entity", ()) if "what" in e]


def test_a_read_in_patient_context() -> None:
    principal = clinician("pat-1")
    resource = build(access(principal, recorded=1_767_225_600_123_456))
    assert resource["resourceType"] == "AuditEvent"
    assert resource["type"] == {
        "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
        "code": "rest",
        "display": "RESTful Operation",
    }
    assert resource["subtype"] == [{"system": RESTFUL_INTERACTION, "code": "read"}]
    assert (resource["action"], resource["outcome"]) == ("R", "0")
    assert resource["outcomeDesc"] == "HTTP 200 OK"
    assert resource["recorded"] == "2026-01-01T00:00:00.123Z"
    user, app = resource["agent"]
    assert user["who"] == {"reference": "Practitioner/dr-1"}  # relative to our base
    assert user["altId"] == principal.subject
    assert user["requestor"] is True
    assert user["policy"] == [principal.token_id]
    assert user["network"] == {"address": "10.1.2.3", "type": "2"}
    assert app["who"] == {"identifier": {"system": CLIENT_ID_SYSTEM, "value": "cardiology-app"}}
    assert app["requestor"] is False
    assert resource["source"]["observer"] == {"display": "mitral-fhir"}
    assert resource["source"]["type"][0]["code"] == "4"
    # The Patient read is the one patient entity (not repeated for event.patients).
    (entity,) = resource["entity"]
    assert entity["what"] == {"reference": "Patient/pat-1"}
    assert (entity["type"]["code"], entity["role"]["code"]) == ("1", "1")


def test_a_search_by_a_system_client() -> None:
    principal = system_client()
    query = "subject=Patient/pat-2&code=http://loinc.org|8867-4"
    event = access(
        principal,
        path="/fhir/Observation",
        interaction="search-type",
        res_type="Observation",
        res_id=None,
        query=query,
        patients=("pat-2",),
        address="build-host.local",
    )
    resource = build(event)
    assert resource["subtype"] == [{"system": RESTFUL_INTERACTION, "code": "search-type"}]
    assert resource["action"] == "E"  # R4 audit-event-action: a query is Execute
    (agent,) = resource["agent"]  # no user: the client is the requestor
    assert agent["who"] == {
        "identifier": {"system": CLIENT_ID_SYSTEM, "value": principal.client_id}
    }
    assert agent["altId"] == principal.subject
    assert agent["network"] == {"address": "build-host.local", "type": "1"}
    searched, patient = resource["entity"]
    assert base64.b64decode(searched["query"]).decode() == query
    assert (searched["type"]["code"], searched["role"]["code"]) == ("2", "24")
    assert searched["description"] == "GET /fhir/Observation"
    assert "name" not in searched  # sev-1: name or query, not both
    assert patient["what"] == {"reference": "Patient/pat-2"}
    assert (patient["type"]["code"], patient["role"]["code"]) == ("1", "1")


def test_a_create() -> None:
    event = access(
        clinician("pat-3"),
        method="POST",
        path="/fhir/Observation",
        interaction="create",
        status=201,
        res_type="Observation",
        res_id="obs-9",
        patients=("pat-3", "pat-3"),
    )
    resource = build(event)
    assert (resource["action"], resource["outcome"]) == ("C", "0")
    assert resource["outcomeDesc"] == "HTTP 201 Created"
    assert entity_refs(resource) == ["Observation/obs-9", "Patient/pat-3"]
    assert resource["entity"][0]["role"]["code"] == "4"


@pytest.mark.parametrize(
    ("status", "outcome", "desc"),
    [
        (404, "4", "HTTP 404 Not Found"),
        (403, "4", "HTTP 403 Forbidden"),
        (500, "8", "HTTP 500 Internal Server Error"),
        (304, "0", "HTTP 304 Not Modified"),
        (599, "8", "HTTP 599"),
    ],
)
def test_failed_requests_map_to_outcomes(status: int, outcome: str, desc: str) -> None:
    resource = build(access(system_client(), status=status, res_id="missing", patients=()))
    assert (resource["outcome"], resource["outcomeDesc"]) == (outcome, desc)


@pytest.mark.parametrize(
    ("method", "path", "interaction", "action", "subtype"),
    [
        ("DELETE", "/fhir/Observation/1", "delete", "D", [(RESTFUL_INTERACTION, "delete")]),
        ("PATCH", "/fhir/Observation/1", "patch", "U", [(RESTFUL_INTERACTION, "patch")]),
        ("GET", "/fhir/Observation/1/_history", "history-instance", "R", None),
        ("POST", "/fhir", "transaction", "E", None),
        (
            "POST",
            "/fhir/Patient/$validate",
            "operation",
            "E",
            [(RESTFUL_INTERACTION, "operation"), (AUDIT_SUBTYPE_SYSTEM, "$validate")],
        ),
        ("POST", "/ingest/RJ1", "ingest", "C", [(AUDIT_SUBTYPE_SYSTEM, "ingest")]),
        ("POST", "/ingest/units/5/replay", "ingest", "E", None),
        ("GET", "/ingest/units", "ingest", "R", None),
        ("GET", "/api/metrics/waits", "metrics", "E", [(AUDIT_SUBTYPE_SYSTEM, "metrics")]),
        (
            "PUT",
            "/fhir/Observation",
            "conditional-update",
            "U",
            [(RESTFUL_INTERACTION, "update"), (AUDIT_SUBTYPE_SYSTEM, "conditional-update")],
        ),
        (
            "GET",
            "/fhir/Patient/1/Observation",
            "search-compartment",
            "E",
            [(RESTFUL_INTERACTION, "search"), (AUDIT_SUBTYPE_SYSTEM, "search-compartment")],
        ),
        ("DELETE", "/fhir/Nope/1/2/3", "unknown", "D", [(AUDIT_SUBTYPE_SYSTEM, "unknown")]),
    ],
)
def test_actions_and_subtypes(
    method: str,
    path: str,
    interaction: str,
    action: str,
    subtype: list[tuple[str, str]] | None,
) -> None:
    event = access(
        system_client(), method=method, path=path, interaction=interaction, res_type=None
    )
    resource = build(event)
    assert resource["action"] == action
    if subtype is not None:
        assert [(c["system"], c["code"]) for c in resource["subtype"]] == subtype


async def test_built_events_are_valid_r4(app: FastAPI) -> None:
    events = [
        access(clinician()),
        access(system_client(), interaction="search-system", query="_lastUpdated=gt2026"),
        access(system_client(), interaction="search-type", res_type="Encounter", res_id=None),
        access(clinician(), method="POST", interaction="create", status=201, res_id="p-9"),
        access(system_client(), status=500, address=None),
        access(system_client(), path="/api/metrics", interaction="metrics", query="period=2026"),
        access(system_client(), method="POST", path="/fhir/$reindex", interaction="operation"),
    ]
    for event in events:
        resource = {"id": "a1", **build(event)}
        issues = await app.state.fhir.validator.validate(resource)
        assert [i for i in issues if i.severity in ("error", "fatal")] == [], issues
