"""Ingest beside the server, through the app's own start-up: the MLLP listener (a real TCP
socket, ACK per message after the message is logged) and polling a centre's FHIR API (respx
in place of Imperial's server) into the shipped hammersmith mapping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from fastapi import FastAPI

from app.ingest.mllp import frame
from app.ingest.pipeline import Ingestor
from app.ingest.services import poller
from app.main import create_app
from tests.conftest import Backend, empty_tables
from tests.ingest.feed_messages import SPEC, referral
from tests.ingest.mappings.test_fhir_centres import NHS, imp_patient, imp_referral, searchset

IMPERIAL = "https://fhir.imperial.nhs.uk/R4"


@pytest.fixture(scope="module")
async def mllp_app(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    mappings = tmp_path_factory.mktemp("mllp-mappings")
    (mappings / "kings.yaml").write_text(SPEC)
    application = create_app(
        backend.settings(mappings_dir=mappings, mllp_port=0, mllp_centre="kings")
    )
    async with application.router.lifespan_context(application):
        yield application


async def _exchange(port: int, messages: list[str]) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    acks = []
    try:
        for message in messages:
            writer.write(frame(message.encode()))
            await writer.drain()
            data = await reader.readuntil(b"\x1c\r")
            acks.append(data.strip(b"\x0b\x1c\r").decode())
    finally:
        writer.close()
        await writer.wait_closed()
    return acks


def _msa(ack: str) -> list[str]:
    segment = next(s for s in ack.split("\r") if s.startswith("MSA|"))
    return segment.split("|")


async def test_mllp_acks_each_message_on_one_connection_after_logging_it(
    mllp_app: FastAPI,
) -> None:
    await empty_tables(mllp_app)
    port = mllp_app.state.ingest_services.mllp.port
    good = referral(1, nhs="9434765919")
    acks = await _exchange(
        port,
        [
            good,
            referral(2, nhs="9434765918"),  # bad check digit: kept, quarantined
            referral(3, nhs="9434765919", version="2.3"),  # not accepted: rejected
            good,  # a resend: already mapped
        ],
    )
    codes = [_msa(a)[1] for a in acks]
    assert codes == ["AA", "AE", "AR", "AA"]
    assert _msa(acks[0])[2] == "KCH00000001"
    assert "not a valid NHS number" in _msa(acks[1])[3]  # MSA-3 (80 characters)

    ingestor: Ingestor = mllp_app.state.ingestor
    async with ingestor.ctx.db.read() as conn:
        rows = await conn.fetch("SELECT status, transport FROM ingest_unit ORDER BY seq")
    assert [(r[0], r[1]) for r in rows] == [
        ("mapped", "mllp"),
        ("quarantined", "mllp"),
        ("quarantined", "mllp"),
    ]


async def test_polling_imperial_maps_each_resource_and_keeps_the_watermark(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ingestor: Ingestor = app.state.ingestor
    centre_poller = poller(
        ingestor, "hammersmith", {"url": IMPERIAL, "types": ["Patient", "ServiceRequest"]}
    )
    try:
        with respx.mock(assert_all_called=True) as upstream:
            upstream.get(f"{IMPERIAL}/Patient").respond(
                200,
                content=searchset(imp_patient()),
                headers={"content-type": "application/fhir+json"},
            )
            upstream.get(f"{IMPERIAL}/ServiceRequest").respond(
                200,
                content=searchset(imp_referral()),
                headers={"content-type": "application/fhir+json"},
            )
            result = await centre_poller.poll_once()
    finally:
        await centre_poller.client.aclose()
    assert result.counts == {"Patient": 1, "ServiceRequest": 1}
    assert not result.failed

    found = (await client.get(f"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS}")).json()
    assert found["total"] == 1
    referrals = (
        await client.get(f"ServiceRequest?subject=Patient/{found['entry'][0]['resource']['id']}")
    ).json()
    assert referrals["total"] == 1
    units = (
        await client.get("http://testserver/ingest/units", params={"centre": "hammersmith"})
    ).json()
    assert units["counts"]["mapped"] == 2
    assert {u["transport"] for u in units["units"]} == {"poll"}
    watermark = await centre_poller.watermarks.get("hammersmith", "Patient")
    assert watermark == "2026-03-12T10:00:00+00:00"
