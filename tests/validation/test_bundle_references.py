"""A document's Composition references resolve inside its Bundle (R4 Composition, bundle.html)."""

from __future__ import annotations

from typing import Any

from app.errors import Issue
from app.validation.base_rules import base_issues

BASE = "https://fhir.mitral.example/fhir/"
NARRATIVE = {
    "status": "generated",
    "div": '<div xmlns="http://www.w3.org/1999/xhtml">Echo report</div>',
}


def not_found(resource: dict[str, Any]) -> list[Issue]:
    return [i for i in base_issues(resource) if i.code == "not-found"]


def entry(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    url = full_url or f"{BASE}{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": url, "resource": resource}


def patient() -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", "text": NARRATIVE}


def echo(version: str | None = None) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "echo1",
        "text": NARRATIVE,
        "status": "final",
        "code": {"text": "Echocardiography"},
        "subject": {"reference": "Patient/p1"},
    }
    if version is not None:
        obs["meta"] = {"versionId": version}
    return obs


def composition(*section_refs: str, subject: str = "Patient/p1") -> dict[str, Any]:
    return {
        "resourceType": "Composition",
        "id": "report1",
        "text": NARRATIVE,
        "status": "final",
        "type": {"text": "Echocardiography report"},
        "subject": {"reference": subject},
        "date": "2024-04-12T10:00:00Z",
        "author": [{"display": "Cardiac physiology"}],
        "title": "Echocardiography report",
        "section": [
            {
                "title": "Findings",
                "text": NARRATIVE,
                "entry": [{"reference": ref} for ref in section_refs],
            }
        ],
    }


def document(*entries: dict[str, Any], kind: str = "document") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": "doc1",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:5b1e2c7a-0d1f"},
        "type": kind,
        "timestamp": "2024-04-12T10:00:00Z",
        "entry": list(entries),
    }


def test_references_that_resolve_pass() -> None:
    bundle = document(
        entry(composition("Observation/echo1", f"{BASE}Observation/echo1")),
        entry(patient()),
        entry(echo()),
    )
    assert not_found(bundle) == []


def test_versioned_references_match_the_version_id() -> None:
    bundle = document(
        entry(composition("Observation/echo1/_history/1", "Observation/echo1/_history/2")),
        entry(patient()),
        entry(echo("1")),
        entry(echo("2")),
    )
    assert not_found(bundle) == []


def test_a_version_the_bundle_does_not_hold_is_reported() -> None:
    bundle = document(
        entry(composition("Observation/echo1/_history/3")),
        entry(patient()),
        entry(echo("1")),
        entry(echo("2")),
    )
    [issue] = not_found(bundle)
    assert "holds only version(s) 1, 2" in issue.diagnostics
    where = "Bundle.entry[0].resource/*Composition/report1*/.section[0].entry[0]"
    assert issue.expression == (where,)


def test_a_resource_missing_from_the_document_is_reported() -> None:
    bundle = document(entry(composition("Observation/echo1")), entry(patient()))
    [issue] = not_found(bundle)
    assert "'Observation/echo1' is not found" in issue.diagnostics


def test_urn_uuid_entries_resolve_by_full_url_and_relative_ones_by_type_and_id() -> None:
    uuid = "urn:uuid:0b7e6f4c-2f43-4f0e-8a51-3d6c1b1e9f20"
    bundle = document(
        entry(composition(uuid), "urn:uuid:8d3a8a67-9d62-4c8e-a8a3-1bde7f0c7a55"),
        entry(patient(), "urn:uuid:5f4b1f0e-4a0b-4c2a-9d8e-2b6f0e3c7d11"),
        entry(echo(), uuid),
    )
    assert not_found(bundle) == []
    missing = document(
        entry(composition(subject="urn:uuid:00000000-0000-0000-0000-000000000000")),
        entry(patient()),
    )
    assert len(not_found(missing)) == 1


def test_local_and_logical_references_and_other_bundle_types_are_left_alone() -> None:
    comp = composition("#contained-note")
    comp["author"] = [{"identifier": {"system": "https://fhir.nhs.uk/Id/ods", "value": "RBZ"}}]
    assert not_found(document(entry(comp), entry(patient()))) == []
    collection = document(entry(composition("Observation/echo1")), kind="collection")
    assert not_found(collection) == []
