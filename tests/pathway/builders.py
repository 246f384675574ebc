"""Resources shaped exactly as ingest maps them (copied from a run of the fixture feeds through
``mitral-fhir ingest``), with the values a test needs swapped in."""

from __future__ import annotations

import uuid
from typing import Any

from app.ingest.mapping.engine import NAMESPACE

BASE = "https://fhir.southlondon-mitral.nhs.uk"
STAGE = f"{BASE}/CodeSystem/pathway-stage"
SNOMED = "http://snomed.info/sct"
OPCS4 = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
ID_SYSTEMS = {
    "st-thomas": "fhir.gstt.nhs.uk",
    "kings": "fhir.kch.nhs.uk",
    "barts": "fhir.bartshealth.nhs.uk",
    "st-georges": "fhir.stgeorges.nhs.uk",
    "royal-brompton": "fhir.rbht.nhs.uk",
    "hammersmith": "fhir.imperial.nhs.uk",
}
TRUST = {"st-thomas": "RJ1", "kings": "RJZ", "barts": "R1H", "st-georges": "RJ7"}
SITE = {"st-thomas": "RJ122", "kings": "RJZ01", "barts": "R1H", "st-georges": "RJ701"}
TEER_DISPLAY = (
    "Fluoroscopy guided percutaneous transluminal repair of mitral valve leaflet using "
    "transoesophageal echocardiography"
)
TEER_CODES = [
    {
        "system": f"{BASE}/CodeSystem/local-barts",
        "code": "BHC_PROC_014",
        "display": "MITRACLIP / PASCAL MITRAL TEER",
    },
    {
        "system": SNOMED,
        "code": "865051000000105",
        "display": TEER_DISPLAY,
    },
    {"system": OPCS4, "code": "K35.8", "display": "Other specified"},
    {"system": OPCS4, "code": "Y07.2", "display": "Clipping of cavity of organ NOC"},
    {"system": OPCS4, "code": "Y53.4", "display": "Approach to organ under fluoroscopic control"},
    {"system": OPCS4, "code": "Z32.1", "display": "Mitral valve"},
]
REPAIR_CODES = [
    {
        "system": f"{BASE}/CodeSystem/local-st-thomas",
        "code": "MVR-REP",
        "display": "Mitral valve repair (sternotomy)",
    },
    {"system": OPCS4, "code": "K25.5", "display": "Mitral valve repair NEC"},
]


def rid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(parts)))


def org(ods: str) -> dict[str, str]:
    return {"reference": f"Organization/{rid('ods', ods)}"}


def _meta(version: int = 1, profile: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "versionId": str(version),
        "lastUpdated": f"2026-12-01T09:00:0{version}.000Z",
    }
    if profile:
        meta["profile"] = [f"{BASE}/StructureDefinition/{profile}"]
    return meta


def patient(nhs: str = "9990000980", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": rid("nhs-number", nhs),
        "meta": _meta(2, "MV-Patient"),
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}],
        "name": [{"family": "Garcia", "given": ["Kwame"]}],
        "gender": "male",
        "birthDate": "1940-01-06",
        "address": [{"use": "home", "postalCode": "SW17 5NF"}],
        **extra,
    }


def subject(pat: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"Patient/{pat['id']}"}


def referral(
    pat: dict[str, Any],
    centre: str,
    key: str,
    when: str,
    *,
    source: str = "gp",
    status: str = "completed",
) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": rid(centre, "ServiceRequest", key),
        "meta": _meta(2, "MV-Referral"),
        "identifier": [{"system": f"https://{ID_SYSTEMS[centre]}/Id/referral", "value": key}],
        "status": status,
        "intent": "order",
        "priority": "routine",
        "category": [
            {"coding": [{"system": STAGE, "code": "referred", "display": "Referred"}]},
            {"coding": [{"system": f"{BASE}/CodeSystem/referral-source", "code": source}]},
        ],
        "code": {
            "coding": [
                {"system": SNOMED, "code": "308471005", "display": "Referral to cardiologist"}
            ]
        },
        "subject": subject(pat),
        "authoredOn": when,
        "requester": {"reference": f"Organization/{rid('gp', key)}"},
        "performer": [org(SITE[centre])],
        "reasonCode": [
            {
                "coding": [
                    {"system": SNOMED, "code": "48724000", "display": "Mitral valve regurgitation"}
                ]
            }
        ],
        "reasonReference": [{"reference": f"Condition/{rid(centre, 'Condition', key)}"}],
    }


def mdt(
    pat: dict[str, Any],
    centre: str,
    key: str,
    when: str,
    outcome: str,
    *,
    aetiology: str = "primary",
) -> dict[str, Any]:
    def ext(name: str, system: str, code: str) -> dict[str, Any]:
        return {
            "url": f"{BASE}/StructureDefinition/Extension-MV-{name}",
            "valueCodeableConcept": {
                "coding": [{"system": f"{BASE}/CodeSystem/{system}", "code": code}]
            },
        }

    return {
        "resourceType": "Encounter",
        "id": rid(centre, "Encounter", key),
        "meta": _meta(),
        "extension": [
            ext("MdtOutcome", "mdt-outcome", outcome),
            ext("MrAetiology", "mr-aetiology", aetiology),
        ],
        "identifier": [{"system": f"https://{ID_SYSTEMS[centre]}/Id/encounter", "value": key}],
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory",
        },
        "type": [
            {
                "coding": [
                    {"system": STAGE, "code": "heart-team-review", "display": "Heart-team review"}
                ]
            },
            {
                "coding": [
                    {
                        "system": f"{BASE}/CodeSystem/local-{centre}",
                        "code": "CL-MDT",
                        "display": "Heart Team MDT",
                    }
                ]
            },
        ],
        "subject": subject(pat),
        "period": {"start": when},
        "serviceProvider": org(TRUST[centre]),
    }


def clinic(
    pat: dict[str, Any], centre: str, key: str, when: str, status: str = "finished"
) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": rid(centre, "Encounter", key),
        "meta": _meta(),
        "identifier": [{"system": f"https://{ID_SYSTEMS[centre]}/Id/appointment", "value": key}],
        "status": status,
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory",
        },
        "type": [
            {
                "coding": [
                    {
                        "system": f"{BASE}/CodeSystem/local-kings",
                        "code": "71001",
                        "display": "Valve clinic",
                    }
                ]
            }
        ],
        "subject": subject(pat),
        "period": {"start": when},
        "serviceProvider": org(TRUST[centre]),
    }


def kings_appointment(
    pat: dict[str, Any], key: str, when: str, code: str, status: str
) -> dict[str, Any]:
    """King's sends its clinics, MDTs and procedure bookings as SIU: Appointments with only
    its own service type codes."""
    return {
        "resourceType": "Appointment",
        "id": rid("kings", "Appointment", key),
        "meta": _meta(),
        "identifier": [{"system": "https://fhir.kch.nhs.uk/Id/appointment", "value": key}],
        "status": status,
        "serviceType": [{"coding": [{"system": f"{BASE}/CodeSystem/local-kings", "code": code}]}],
        "start": when,
        "participant": [{"actor": subject(pat), "status": "accepted"}],
    }


def intervention(
    pat: dict[str, Any],
    centre: str,
    key: str,
    when: str,
    based_on: dict[str, Any],
    *,
    codes: list[dict[str, Any]] | None = None,
    status: str = "active",
) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": rid(centre, "ServiceRequest", key),
        "meta": _meta(1, "MV-InterventionRequest"),
        "identifier": [{"system": f"https://{ID_SYSTEMS[centre]}/Id/order", "value": key}],
        "basedOn": [{"reference": f"ServiceRequest/{based_on['id']}"}],
        "status": status,
        "intent": "order",
        "category": [{"coding": [{"system": STAGE, "code": "decision"}]}],
        "code": {"coding": codes or TEER_CODES[1:]},
        "subject": subject(pat),
        "authoredOn": when,
        "requester": org(TRUST[centre]),
    }


def barts_booking(
    pat: dict[str, Any], key: str, when: str, status: str = "planned"
) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": rid("barts", "Encounter", key),
        "meta": _meta(),
        "identifier": [{"system": "https://fhir.bartshealth.nhs.uk/Id/appointment", "value": key}],
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [
            {
                "coding": [
                    {
                        "system": STAGE,
                        "code": "treatment-scheduled",
                        "display": "Treatment scheduled",
                    }
                ]
            },
            {"coding": [TEER_CODES[0]]},
        ],
        "subject": subject(pat),
        "period": {"start": when},
        "serviceProvider": org("R1H"),
    }


def barts_admission(pat: dict[str, Any], key: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": rid("barts", "Encounter", key),
        "meta": _meta(),
        "identifier": [{"system": "https://fhir.bartshealth.nhs.uk/Id/visit", "value": key}],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": subject(pat),
        "period": {"start": when},
        "serviceProvider": org("R1H"),
    }


def procedure(
    pat: dict[str, Any],
    key: str,
    when: str,
    *,
    centre_ods: str = "R1H",
    trust: str = "R1H",
    codes: list[dict[str, Any]] | None = None,
    status: str = "completed",
    version: int = 1,
    approach: str | None = "transseptal",
    operator: str | None = None,
) -> dict[str, Any]:
    """A Procedure as the HL7 feeds map it: no identifier, the centre only as performer."""
    performer: dict[str, Any] = {"actor": org(centre_ods), "onBehalfOf": org(trust)}
    out: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": rid("procedure", key),
        "meta": _meta(version, "MV-Procedure"),
        "status": status,
        "code": {"coding": codes or TEER_CODES},
        "subject": subject(pat),
        "performedDateTime": when,
        "performer": [performer],
    }
    if operator:
        out["performer"].insert(0, {"actor": {"reference": operator}, "onBehalfOf": org(trust)})
    if approach:
        out["extension"] = [
            {
                "url": f"{BASE}/StructureDefinition/Extension-MV-SurgicalApproach",
                "valueCodeableConcept": {
                    "coding": [{"system": f"{BASE}/CodeSystem/surgical-approach", "code": approach}]
                },
            }
        ]
    return out


def regional_journey(pat: dict[str, Any]) -> list[dict[str, Any]]:
    """Referred at King's, heart team at St Thomas', TEER at Barts, follow-up back at King's."""
    ref = referral(
        pat, "kings", "KCH-REF-000101", "2025-01-06T10:15:00+00:00", source="dgh-cardiology"
    )
    hub = referral(
        pat,
        "st-thomas",
        "GST-REF-000201",
        "2025-01-27T12:30:00+00:00",
        source="network-centre-transfer",
    )
    return [
        ref,
        clinic(pat, "kings", "KCH-APT-000101", "2025-01-20T09:45:00+00:00"),
        hub,
        mdt(
            pat,
            "st-thomas",
            "GST-ENC-000201",
            "2025-02-10T11:30:00+00:00",
            "transcatheter-repair",
            aetiology="secondary-ventricular",
        ),
        intervention(pat, "st-thomas", "GST-ORD-000201", "2025-02-10T12:30:00+00:00", hub),
        referral(
            pat,
            "barts",
            "BHC-REF-000301",
            "2025-02-17T09:00:00+00:00",
            source="network-centre-transfer",
        ),
        barts_booking(pat, "BHC-APT-000301", "2025-03-24T08:15:00+00:00"),
        barts_admission(pat, "BHC-V-000301", "2025-03-24T06:15:00+00:00"),
        procedure(
            pat, "BHC-PROC-000301", "2025-03-24T08:15:00+00:00", operator="Practitioner/c-okonjo"
        ),
        clinic(pat, "kings", "KCH-APT-000102", "2025-05-12T10:15:00+01:00"),
    ]
