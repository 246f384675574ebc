"""A small 2025 cohort written through the REST API and derived, for the HTTP-level metric tests.

==  ========================  =====  =====  =====  =====================================
id  referred (centre)         r->m   m->t   r->t   treated
==  ========================  =====  =====  =====  =====================================
A   2025-01-06 St Thomas'     14     42     56     2025-03-03 RJZ01 surgery repair (K25.5)
B   2025-01-06 King's         35     42     77     2025-03-24 R1H TEER (regional journey)
C   2025-02-03 King's         28     126    154    2025-07-07 R1H TEER
D   2025-06-02 Barts          -      -      -      open (213 days on 2025-12-31)
==  ========================  =====  =====  =====  =====================================

Treated in 2025: A, B, C. Referral->treatment waits 56, 77, 154: median 77, p90 154; within 18
weeks (126 days) 2 of 3. By treating centre: RJZ01 [56], R1H [77, 154].
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from app.pathway import derivation
from tests.pathway import builders as b

K25_5 = [{"system": b.OPCS4, "code": "K25.5", "display": "Mitral valve repair NEC"}]


def cohort() -> list[dict[str, Any]]:
    a, pb, c, d = (b.patient(n) for n in ("9900001001", "9900001028", "9900001036", "9900001044"))
    return [
        a,
        b.referral(a, "st-thomas", "GST-REF-100001", "2025-01-06T10:00:00+00:00"),
        b.mdt(a, "st-thomas", "GST-ENC-100001", "2025-01-20T11:00:00+00:00", "surgery"),
        b.procedure(
            a,
            "KCH-PROC-100001",
            "2025-03-03T09:00:00+00:00",
            centre_ods="RJZ",
            trust="RJZ",
            codes=K25_5,
            approach="sternotomy",
        ),
        pb,
        *b.regional_journey(pb),
        c,
        b.referral(c, "kings", "KCH-REF-100003", "2025-02-03T10:00:00+00:00"),
        b.mdt(
            c,
            "kings",
            "KCH-ENC-100003",
            "2025-03-03T11:00:00+00:00",
            "transcatheter-repair",
            aetiology="secondary-ventricular",
        ),
        b.procedure(c, "BHC-PROC-100003", "2025-07-07T09:00:00+01:00"),
        d,
        b.referral(d, "barts", "BHC-REF-100004", "2025-06-02T10:00:00+01:00"),
    ]


async def store_cohort(app: FastAPI, client: httpx.AsyncClient) -> None:
    """PUT every resource (as a client system would), then derive the queued patients."""
    for resource in cohort():
        body = {k: v for k, v in resource.items() if k != "meta"} | {
            "meta": {"profile": resource["meta"].get("profile", [])}
        }
        if not body["meta"]["profile"]:
            del body["meta"]
        response = await client.put(f"{resource['resourceType']}/{resource['id']}", json=body)
        assert response.status_code in (200, 201), response.text
    await derivation.drain(app.state.fhir)


ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
APPROACH = f"{b.BASE}/CodeSystem/surgical-approach"


def services() -> list[dict[str, Any]]:
    """King's offers open surgery (by ODS identifier); Barts, through a stored Organization,
    offers transcatheter replacement only, so its TEERs are unexpected."""
    barts = {
        "resourceType": "Organization",
        "id": "barts-heart-centre",
        "identifier": [{"system": ODS, "value": "R1H"}],
        "name": "Barts Heart Centre",
    }
    return [
        barts,
        {
            "resourceType": "HealthcareService",
            "id": "kings-mitral-surgery",
            "active": True,
            "providedBy": {"identifier": {"system": ODS, "value": "RJZ01"}},
            "characteristic": [{"coding": [{"system": APPROACH, "code": "open-surgical"}]}],
        },
        {
            "resourceType": "HealthcareService",
            "id": "barts-tmvr",
            "active": True,
            "providedBy": {"reference": "Organization/barts-heart-centre"},
            "type": [{"coding": [{"system": b.SNOMED, "code": "720583008"}]}],
            "characteristic": [{"coding": [{"system": APPROACH, "code": "transfemoral"}]}],
        },
    ]


async def store_services(client: httpx.AsyncClient) -> None:
    for resource in services():
        response = await client.put(f"{resource['resourceType']}/{resource['id']}", json=resource)
        assert response.status_code in (200, 201), response.text
