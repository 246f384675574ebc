"""Realistic UK resources (NHS number, ODS codes, SNOMED CT, OPCS-4) for tests and timing.

Each builder returns a fresh dict so a test can mutate its copy. Sizes are those of typical
centre feeds: 1-2 KB of JSON per resource.
"""

from __future__ import annotations

from typing import Any

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORG = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"
SNOMED = "http://snomed.info/sct"
OPCS4 = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
UBRN = "https://fhir.nhs.uk/Id/UBRN"


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "9449306680",
        "meta": {
            "versionId": "3",
            "lastUpdated": "2024-03-18T09:12:44.120+00:00",
            "profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"],
        },
        "extension": [
            {
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory",
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategory",
                            "code": "A",
                            "display": "British, Mixed British",
                        }
                    ]
                },
            }
        ],
        "identifier": [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland",
                                    "code": "01",
                                    "display": "Number present and verified",
                                }
                            ]
                        },
                    }
                ],
                "system": NHS_NUMBER,
                "value": "9449306680",
            },
            {"system": "https://fhir.kingsch.nhs.uk/Id/hospital-number", "value": "K1234567"},
        ],
        "active": True,
        "name": [
            {"use": "official", "family": "Okafor", "given": ["Adaeze", "Grace"], "prefix": ["Mrs"]}
        ],
        "telecom": [
            {"system": "phone", "value": "07700 900123", "use": "mobile", "rank": 1},
            {"system": "email", "value": "a.okafor@example.org.uk", "use": "home"},
        ],
        "gender": "female",
        "birthDate": "1948-11-02",
        "address": [
            {
                "use": "home",
                "line": ["14 Camberwell Grove"],
                "city": "London",
                "postalCode": "SE5 8RE",
                "country": "GB",
                "period": {"start": "2009-06-01"},
            }
        ],
        "generalPractitioner": [
            {
                "identifier": {"system": ODS_ORG, "value": "G85011"},
                "display": "Camberwell Green Surgery",
            }
        ],
        "managingOrganization": {
            "reference": "Organization/RJZ",
            "identifier": {"system": ODS_ORG, "value": "RJZ"},
        },
    }


def service_request() -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": "ref-2024-000187",
        "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-ServiceRequest"]},
        "identifier": [
            {"system": UBRN, "value": "000012345678"},
            {"system": "https://fhir.kingsch.nhs.uk/Id/referral", "value": "KCH-REF-2024-000187"},
        ],
        "status": "active",
        "intent": "order",
        "category": [
            {"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}
        ],
        "priority": "urgent",
        "code": {
            "coding": [
                {
                    "system": SNOMED,
                    "code": "183557002",
                    "display": "Referral to cardiothoracic surgeon",
                }
            ]
        },
        "subject": {
            "reference": "Patient/9449306680",
            "identifier": {"system": NHS_NUMBER, "value": "9449306680"},
        },
        "authoredOn": "2024-03-18T10:05:00+00:00",
        "requester": {"reference": "Practitioner/C4821374", "display": "Dr Priya Raman"},
        "performer": [
            {"identifier": {"system": ODS_SITE, "value": "RJ122"}, "display": "St Thomas' Hospital"}
        ],
        "reasonCode": [
            {
                "coding": [
                    {"system": SNOMED, "code": "48724000", "display": "Mitral valve regurgitation"},
                    {"system": "http://hl7.org/fhir/sid/icd-10-uk", "code": "I34.0"},
                ]
            }
        ],
        "note": [
            {
                "authorString": "Dr Priya Raman",
                "time": "2024-03-18T10:05:00Z",
                "text": "Severe primary MR, NYHA III. Please assess for repair.",
            }
        ],
    }


def procedure() -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": "proc-teer-0042",
        "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Procedure"]},
        "basedOn": [{"reference": "ServiceRequest/ref-2024-000187"}],
        "status": "completed",
        "category": {
            "coding": [{"system": SNOMED, "code": "387713003", "display": "Surgical procedure"}]
        },
        "code": {
            "coding": [
                {
                    "system": SNOMED,
                    "code": "865051000000105",
                    "display": (
                        "Fluoroscopy guided percutaneous transluminal repair of mitral valve"
                        " leaflet using transoesophageal echocardiography"
                    ),
                },
                {"system": OPCS4, "code": "K35.8"},
                {"system": OPCS4, "code": "Y07.2"},
                {"system": OPCS4, "code": "Y53.4"},
                {"system": OPCS4, "code": "Z32.1"},
            ]
        },
        "subject": {"reference": "Patient/9449306680"},
        "performedPeriod": {
            "start": "2024-05-02T09:30:00+01:00",
            "end": "2024-05-02T11:10:00+01:00",
        },
        "performer": [
            {
                "function": {
                    "coding": [{"system": SNOMED, "code": "304292004", "display": "Surgeon"}]
                },
                "actor": {"reference": "Practitioner/C7731002", "display": "Mr James Whitfield"},
                "onBehalfOf": {"identifier": {"system": ODS_ORG, "value": "RJ1"}},
            }
        ],
        "location": {"identifier": {"system": ODS_SITE, "value": "RJ122"}},
        "reasonReference": [{"reference": "Condition/mr-severe-primary"}],
        "outcome": {"coding": [{"system": SNOMED, "code": "385669000", "display": "Successful"}]},
        "focalDevice": [{"manipulated": {"display": "Mitral valve clip"}}],
    }


def observation_quantity() -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "lvef-0042",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "imaging",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": "http://loinc.org",
                    "code": "10230-1",
                    "display": "Left ventricular Ejection fraction",
                }
            ]
        },
        "subject": {"reference": "Patient/9449306680"},
        "effectiveDateTime": "2024-04-11T14:20:00+01:00",
        "valueQuantity": {
            "value": 55,
            "unit": "%",
            "system": "http://unitsofmeasure.org",
            "code": "%",
        },
    }


def transaction_bundle() -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:4b2c6a5e-1f0d-4c57-9a0b-2f6f3c1d8e11",
                "resource": patient(),
                "request": {
                    "method": "PUT",
                    "url": "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9449306680",
                },
            },
            {
                "fullUrl": "urn:uuid:7d3e1b8c-52a4-4f0e-8c6d-0a9b1e2f3c4d",
                "resource": service_request(),
                "request": {"method": "POST", "url": "ServiceRequest"},
            },
            {
                "fullUrl": "urn:uuid:0e9f8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f",
                "resource": procedure(),
                "request": {
                    "method": "POST",
                    "url": "Procedure",
                    "ifNoneExist": "identifier=proc-teer-0042",
                },
            },
        ],
    }


def with_contained() -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "contained": [
            {
                "resourceType": "Organization",
                "id": "trust",
                "identifier": [{"system": ODS_ORG, "value": "RJ1"}],
                "name": "Guy's and St Thomas' NHS Foundation Trust",
            }
        ],
        "code": {
            "coding": [
                {"system": SNOMED, "code": "53059001", "display": "Replacement of mitral valve"},
                {"system": OPCS4, "code": "K25.3"},
            ]
        },
        "subject": {"reference": "Patient/9449306680"},
        "performedDateTime": "2024-05-02",
        "performer": [{"actor": {"reference": "#trust"}}],
    }
