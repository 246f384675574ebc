"""A Backend Services client: it signs its own ES384 assertion (its public key registered
inline with ``mitral-fhir clients add --jwks-file``), gets a ``system/*.rs`` token and reads
through ``fhirpy``, which knows nothing of SMART but the bearer header."""

from __future__ import annotations

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import AuthorizationError, ForbiddenError

from tests.auth.e2e.conftest import (
    BACKEND_APP,
    BACKEND_KEY,
    OTHER,
    PICKED,
    PICKED_OBSERVATIONS,
    SecuredServer,
    backend_token_form,
    client_assertion,
)


@pytest.mark.server
async def test_a_system_token_reads_every_patient_and_its_assertion_cannot_be_replayed(
    secured_server: SecuredServer,
) -> None:
    signed = client_assertion(BACKEND_APP, BACKEND_KEY, secured_server.token_url)
    form = backend_token_form(signed, "system/*.rs")
    async with httpx.AsyncClient(timeout=10.0) as http:
        issued = await http.post(secured_server.token_url, data=form)
        replayed = await http.post(secured_server.token_url, data=form)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "system/*.rs"
    assert 0 < body["expires_in"] <= 300
    assert "refresh_token" not in body
    assert replayed.status_code == 401, replayed.text
    assert replayed.json()["error"] == "invalid_client"

    fhir = AsyncFHIRClient(secured_server.base, authorization=f"Bearer {body['access_token']}")
    patients = await fhir.resources("Patient").search(_id=f"{PICKED},{OTHER}").fetch_all()
    assert sorted(p.id for p in patients) == sorted([PICKED, OTHER])
    observations = await fhir.resources("Observation").search(patient=PICKED).fetch_all()
    assert len(observations) == PICKED_OBSERVATIONS
    read = await fhir.reference("Patient", OTHER).to_resource()
    assert read["name"][0]["family"] == "Mensah"
    with pytest.raises(ForbiddenError, match="forbidden"):  # read and search only
        await fhir.resource("Patient", name=[{"family": "Nobody"}]).create()


@pytest.mark.server
async def test_without_a_token_fhirpy_is_refused(secured_server: SecuredServer) -> None:
    fhir = AsyncFHIRClient(secured_server.base)
    with pytest.raises(AuthorizationError):
        await fhir.reference("Patient", PICKED).to_resource()
