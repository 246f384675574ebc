"""Realistic UK pathway resources for the extraction tests (fhirpathpy is the oracle)."""

from __future__ import annotations

from typing import Any

from tests.factories import NHS_NUMBER, ODS_ORG, SNOMED, patient, procedure, referral

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
GMC = "https://fhir.hl7.org.uk/Id/gmc-number"


def practitioner() -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": "prac-1",
        "identifier": [{"system": GMC, "value": "C1234567"}],
        "active": True,
        "name": [{"family": "Ní Bhriain", "given": ["Siobhán"], "prefix": ["Dr"]}],
        "telecom": [
            {"system": "email", "value": "s.nibhriain@nhs.net", "use": "work"},
            {"system": "phone", "value": "020 7188 7188"},
        ],
        "gender": "female",
        "qualification": [{"code": {"text": "MRCP (UK)"}}],
    }


def observation_bp() -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "bp-1",
        "meta": {
            "profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation"],
            "tag": [{"system": "https://mitral.example/tags", "code": "pathway"}],
            "source": "https://epr.gstt.nhs.uk",
        },
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"},
                {"system": SNOMED, "code": "75367002", "display": "Blood pressure"},
            ],
            "text": "Blood pressure",
        },
        "subject": {"reference": "Patient/pat-1"},
        "encounter": {"reference": "Encounter/enc-1"},
        "effectiveDateTime": "2026-03-29T01:30:00+01:00",
        "performer": [
            {"reference": "Practitioner/prac-1"},
            {"reference": "https://fhir.gstt.nhs.uk/fhir/Organization/RJ1"},
        ],
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic"}]},
                "valueQuantity": {"value": 142, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic"}]},
                "valueQuantity": {"value": 88.5, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    }


def observation_echo() -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": SNOMED, "code": "250908004", "display": "LVEF"}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectivePeriod": {"start": "2026-04-01", "end": "2026-04-02T10:00:00Z"},
        "valueQuantity": {"value": 5.40, "unit": "%", "system": UCUM, "code": "%"},
        "interpretation": [{"text": "Mildly reduced"}],
    }


def careplan() -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": "cp-1",
        "identifier": [{"system": "https://fhir.gstt.nhs.uk/Id/careplan", "value": "CP-77"}],
        "instantiatesCanonical": ["https://mitral.example/fhir/PlanDefinition/teer|2.1"],
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [{"system": SNOMED, "code": "736378000"}]}],
        "title": "Mitral TEER pathway",
        "subject": {"reference": "Patient/pat-1"},
        "period": {"start": "2026-10-01"},
        "careTeam": [{"reference": "CareTeam/ct-1"}],
        "goal": [{"reference": "#g1"}],
        "activity": [
            {
                "reference": {"reference": "ServiceRequest/sr-1"},
                "detail": {
                    "kind": "ServiceRequest",
                    "code": {"coding": [{"system": SNOMED, "code": "40701008"}]},
                    "status": "scheduled",
                    "scheduledTiming": {"event": ["2026-11-03T09:00:00Z", "2026-11-10T09:00:00Z"]},
                    "performer": [{"reference": "Practitioner/prac-1"}],
                },
            },
            {"detail": {"status": "not-started", "scheduledString": "after MDT"}},
        ],
    }


def encounter() -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "identifier": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "VN",
                        }
                    ],
                    "text": "Visit number",
                },
                "system": "https://fhir.gstt.nhs.uk/Id/visit",
                "value": "V-2026-1",
            }
        ],
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "IMP",
            "display": "inpatient encounter",
        },
        "subject": {"reference": "Patient/pat-1"},
        "participant": [
            {"individual": {"reference": "Practitioner/prac-1"}},
            {"individual": {"identifier": {"system": GMC, "value": "C7654321"}}},
        ],
        "period": {"start": "2026-11-02T08:00:00Z", "end": "2026-11-05"},
        "length": {"value": 3, "unit": "days", "system": UCUM, "code": "d"},
        "serviceProvider": {"reference": "Organization/org-1"},
        "location": [{"location": {"reference": "Location/loc-1"}}],
    }


def condition() -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {
            "coding": [{"system": SNOMED, "code": "48724000"}],
            "text": "Mitral regurgitation",
        },
        "subject": {"reference": "Patient/pat-1"},
        "onsetAge": {"value": 77, "unit": "years", "system": UCUM, "code": "a"},
        "recordedDate": "2026-09",
    }


def organization() -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "identifier": [{"system": ODS_ORG, "value": "RJ1"}],
        "active": True,
        "type": [{"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/org-type", "code": "TR"}]}],
        "name": "Guy's and St Thomas' NHS Foundation Trust",
        "alias": ["GSTT"],
        "address": [
            {"line": ["Westminster Bridge Road"], "city": "London", "postalCode": "SE1 7EH"}
        ],
    }


def all_resources() -> list[dict[str, Any]]:
    return [
        patient(
            "9000000009",
            telecom=[{"system": "phone", "value": "07700 900123"}],
            deceasedBoolean=False,
            generalPractitioner=[{"identifier": {"system": ODS_ORG, "value": "G82001"}}],
        ),
        patient("9434765919", family="O'Brien", deceasedDateTime="2026-01-01"),
        practitioner(),
        organization(),
        referral("Patient/pat-1", "Practitioner/prac-1"),
        procedure("Patient/pat-1"),
        observation_bp(),
        observation_echo(),
        careplan(),
        encounter(),
        condition(),
        {
            "resourceType": "Location",
            "name": "Cardiac Catheter Lab 2",
            "identifier": [{"system": ODS_ORG, "value": "RJ122"}],
            "managingOrganization": {"reference": "Organization/org-1"},
            "address": {"line": ["St Thomas' Hospital"], "city": "London"},
        },
        {
            "resourceType": "ValueSet",
            "url": "https://mitral.example/fhir/ValueSet/teer-outcomes",
            "version": "1.0",
            "name": "TeerOutcomes",
            "status": "active",
            "date": "2026-01-15",
        },
        {"resourceType": "Bundle", "type": "collection", "identifier": {"value": "b1"}},
        {"resourceType": "Patient", "name": [{"text": "Zoë  Brontë"}], "gender": "other"},
    ]


NHS = NHS_NUMBER
