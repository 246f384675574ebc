"""Tokens from the embedded server open the FHIR API, and stop doing so once revoked
(ONC g10's token revocation check), with access control on."""

from __future__ import annotations

import httpx

from tests.auth.server.conftest import PATIENT, exchange, launch


async def test_issued_token_reads_and_revoked_token_does_not(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"/fhir/Patient/{PATIENT}")).status_code == 401
    body = (await exchange(http, await launch(http))).json()
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    read = await http.get(f"/fhir/Patient/{PATIENT}", headers=bearer)
    assert read.status_code == 200 and read.json()["id"] == PATIENT
    revoked = await http.post(
        "/auth/revoke", data={"token": body["access_token"], "client_id": "app-public"}
    )
    assert revoked.status_code == 200
    after = await http.get(f"/fhir/Patient/{PATIENT}", headers=bearer)
    assert after.status_code in (401, 403)
