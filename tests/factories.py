"""Realistic resources from the regional pathway, for tests (NHS numbers pass mod 11)."""

from __future__ import annotations

from typing import Any

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORG = "https://fhir.nhs.uk/Id/ods-organization-code"
GSTT_MRN = "https://fhir.gstt.nhs.uk/Id/mrn"
SNOMED = "http://snomed.info/sct"
OPCS4 = "http://fhir.nhs.uk/CodeSystem/OPCS-4"


def patient(nhs_number: str = "9000000009", family: str = "Okafor", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": NHS_NUMBER, "value": nhs_number},
            {"system": GSTT_MRN, "value": f"H{nhs_number[-6:]}"},
        ],
        "name": [{"use": "official", "family": family, "given": ["Adaeze", "Grace"]}],
        "gender": "female",
        "birthDate": "1948-07-19",
        "address": [{"line": ["14 Lambeth Palace Road"], "city": "London", "postalCode": "SE1 7EH"}],
        **extra,
    }


def organization(ods: str = "RJ1", name: str = "Guy's and St Thomas' NHS Foundation Trust") -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "identifier": [{"system": ODS_ORG, "value": ods}],
        "active": True,
        "name": name,
    }


def referral(subject: str, requester: str | None = None, local_id: str = "REF-2026-0042") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "https://fhir.gstt.nhs.uk/Id/referral", "value": local_id}],
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}],
        "code": {"coding": [{"system": SNOMED, "code": "183557002", "display": "Referral to cardiology service"}]},
        "reasonCode": [{"coding": [{"system": SNOMED, "code": "48724000", "display": "Mitral valve regurgitation"}]}],
        "subject": {"reference": subject},
        "authoredOn": "2026-10-02T09:30:00+01:00",
    }
    if requester:
        resource["requester"] = {"reference": requester}
    return resource


def procedure(subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "code": {
            "coding": [
                {"system": SNOMED, "code": "865051000000105", "display": "Percutaneous transcatheter mitral valve leaflet clip repair"},
                {"system": OPCS4, "code": "K35.8"},
            ]
        },
        "subject": {"reference": subject},
        "performedDateTime": "2026-11-03T14:10:00Z",
    }
