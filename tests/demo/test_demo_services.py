"""The demo's MV-Service resources are valid, and the capability matrix reads them: each
centre's offer sits beside what the synthetic feeds say it did."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from app.demo.loader import load_demo_data
from app.demo.services import centre_services


async def test_every_demo_service_conforms_to_mv_service(client: httpx.AsyncClient) -> None:
    services = centre_services()
    assert len(services) == 6  # St George's refers, it does not treat
    for service in services:
        checked = await client.post("HealthcareService/$validate", json=service)
        errors = [i for i in checked.json()["issue"] if i["severity"] in ("error", "fatal")]
        assert checked.status_code == 200 and not errors, (service["id"], errors)


async def test_the_capability_matrix_shows_each_centres_offer(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await load_demo_data(app.state.fhir)
    base = str(client.base_url).removesuffix("fhir/")
    async with httpx.AsyncClient(transport=client._transport, base_url=base) as root:
        response = await root.get(
            "/api/metrics/capability-matrix", params={"start": "2020-01-01", "end": "2030-12-31"}
        )
    assert response.status_code == 200, response.text
    rows = {r["centre"]: r["modalities"] for r in response.json()["rows"]}
    offers = {c: {m for m, v in mods.items() if v["offers"]} for c, mods in rows.items()}
    # Harefield (site RJ181) does surgery, minimal access, TEER and TMVR in the synthetic feeds.
    assert offers["RJ181"] == {
        "surgery",
        "minimal-access-surgery",
        "transcatheter-repair",
        "transcatheter-replacement",
    }
    # St George's refers and has no MV-Service: it offers nothing.
    assert offers.get("RJ701", set()) == set()
    # Hammersmith: open surgery and transcatheter, no minimal access.
    assert "minimal-access-surgery" not in offers["RYJ03"]
    assert {"surgery", "transcatheter-repair"} <= offers["RYJ03"]
