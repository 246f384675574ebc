"""Principals and AccessEvents for the audit tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import FastAPI

from app.auth.access import AccessEvent, Principal
from app.auth.audit import AuditTrail
from app.auth.scopes import Grants

BASE = "http://testserver/fhir"


def clinician(patient: str = "pat-1") -> Principal:
    """A user launched in a patient's context (EHR launch): fhirUser, patient, jti."""
    return Principal(
        client_id="cardiology-app",
        subject=f"user-{uuid.uuid4().hex[:8]}",
        grants=Grants.parse("patient/*.rs"),
        patient=patient,
        fhir_user=f"{BASE}/Practitioner/dr-1",
        token_id=f"jti-{uuid.uuid4().hex}",
    )


def system_client() -> Principal:
    """A backend service (client_credentials): no user, no patient context."""
    name = f"svc-{uuid.uuid4().hex[:8]}"
    return Principal(
        client_id=name,
        subject=name,
        grants=Grants.parse("system/*.rs"),
        token_id=f"jti-{uuid.uuid4().hex}",
    )


def access(principal: Principal, **fields: Any) -> AccessEvent:
    values: dict[str, Any] = {
        "method": "GET",
        "path": "/fhir/Patient/pat-1",
        "interaction": "read",
        "status": 200,
        "recorded": time.time_ns() // 1000,
        "res_type": "Patient",
        "res_id": "pat-1",
        "patients": ("pat-1",),
        "address": "10.1.2.3",
    }
    values.update(fields)
    return AccessEvent(principal=principal, **values)


def trail_of(application: FastAPI) -> AuditTrail:
    found: AuditTrail = application.state.audit
    return found


async def count_stored(application: FastAPI, principal: Principal) -> int:
    """AuditEvents stored for the principal (by its token ``sub``, ``altid``)."""
    async with application.state.fhir.db.read() as conn:
        row = await conn.fetchrow(
            "SELECT count(*) FROM search_token WHERE res_type = 'AuditEvent' "
            "AND param = 'altid' AND code = $1",
            principal.subject,
        )
    assert row is not None
    return int(row[0])
