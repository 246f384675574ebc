"""The stored pathway follows the data: writes queue their patient in the same transaction,
``drain`` derives the queue into CarePlans and episode rows, and ``rebuild`` (the same path
over every patient) changes nothing that is already true. On both backends, through the
public interfaces (``POST /ingest/{centre}``, the FHIR REST API, the CLI)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from app.cli import cli
from app.fhir.context import FhirContext
from app.pathway import derivation, episode_rows
from app.storage import migrate

FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
CENTRES = ("kings", "barts", "st-thomas", "royal-brompton", "st-georges", "harefield")
_MEDIA = {".hl7": "x-application/hl7-v2+er7", ".csv": "text/csv", ".json": "application/fhir+json"}


async def _ingest_fixtures(client: httpx.AsyncClient) -> None:
    """Every fixture feed through ``POST /ingest/{centre}`` (outside the /fhir base)."""
    base = str(client.base_url).removesuffix("fhir/")
    async with httpx.AsyncClient(transport=client._transport, base_url=base) as root:
        await _post_fixtures(root)


async def _post_fixtures(client: httpx.AsyncClient) -> None:
    for centre in CENTRES:
        for path in sorted(p for p in (FEEDS / centre).rglob("*") if p.suffix in _MEDIA):
            response = await client.post(
                f"/ingest/{centre}",
                content=path.read_bytes(),
                headers={"Content-Type": _MEDIA[path.suffix]},
            )
            assert response.status_code in (200, 201), response.text


async def _careplans(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    url: str | None = "CarePlan?_count=500"
    while url:
        page = (await client.get(url)).json()
        for entry in page.get("entry", []):
            found[entry["resource"]["id"]] = entry["resource"]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    return found


async def _queued(ctx: FhirContext) -> set[str]:
    async with ctx.db.read() as conn:
        return {row[0] for row in await conn.fetch("SELECT patient_id FROM pathway_dirty")}


def _stage(careplan: dict[str, Any]) -> str:
    code: str = careplan["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
    return code


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


async def test_ingest_queues_patients_and_drain_derives_one_careplan_per_episode(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx: FhirContext = app.state.fhir
    await _ingest_fixtures(client)
    patients = (await client.get("Patient", params={"_summary": "count"})).json()["total"]
    queued = await _queued(ctx)
    assert queued and len(queued) == patients  # every regional patient, nothing derived yet
    assert await _careplans(client) == {}

    done = await derivation.drain(ctx)

    assert done.patients == patients
    assert await _queued(ctx) == set()
    careplans = await _careplans(client)
    async with ctx.db.read() as conn:
        episodes = await episode_rows.load(conn)
    assert len(careplans) == len(episodes) == done.episodes == done.written
    assert {e.careplan_id for e in episodes} == set(careplans)
    for episode in episodes:
        careplan = careplans[episode.careplan_id]
        assert careplan["subject"]["reference"] == f"Patient/{episode.patient_id}"
        assert _stage(careplan) == episode.stage
        assert careplan["period"]["start"] == episode.referred
    checked = await client.post("CarePlan/$validate", json=next(iter(careplans.values())))
    assert checked.status_code == 200, checked.text
    assert not [i for i in checked.json()["issue"] if i["severity"] in ("error", "fatal")]


async def test_rebuild_gives_the_same_result_and_no_new_versions(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx: FhirContext = app.state.fhir
    await _ingest_fixtures(client)
    await derivation.drain(ctx)
    before = await _careplans(client)
    async with ctx.db.read() as conn:
        rows_before = sorted(map(repr, await episode_rows.load(conn)))

    again = await derivation.rebuild(ctx)

    assert again.patients >= len({c["subject"]["reference"] for c in before.values()})
    assert (again.written, again.removed) == (0, 0)
    after = await _careplans(client)
    assert {k: v["meta"]["versionId"] for k, v in after.items()} == {
        k: v["meta"]["versionId"] for k, v in before.items()
    }
    async with ctx.db.read() as conn:
        assert sorted(map(repr, await episode_rows.load(conn))) == rows_before

    # Derived state lost (the episode table emptied, every CarePlan deleted): rebuilt alike.
    async with ctx.db.write() as conn:
        await conn.execute("DELETE FROM pathway_episode")
    for careplan_id in before:
        assert (await client.delete(f"CarePlan/{careplan_id}")).status_code == 204
    rebuilt = await derivation.rebuild(ctx)
    assert rebuilt.episodes == len(before)
    restored = await _careplans(client)
    assert {k: _without_meta(v) for k, v in restored.items()} == {
        k: _without_meta(v) for k, v in before.items()
    }


async def test_a_rest_write_queues_its_patient_and_a_rolled_back_one_does_not(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx: FhirContext = app.state.fhir
    await _ingest_fixtures(client)
    await derivation.drain(ctx)
    procedure = (await client.get("Procedure", params={"_count": "1"})).json()["entry"][0]
    patient_id = procedure["resource"]["subject"]["reference"].split("/")[1]
    careplans = (await client.get("CarePlan", params={"subject": f"Patient/{patient_id}"})).json()
    treated_stage = {e["resource"]["id"]: _stage(e["resource"]) for e in careplans["entry"]}

    # A transaction that fails (its second entry is invalid) writes nothing and queues nobody.
    broken = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {**procedure["resource"], "status": "entered-in-error"},
                "request": {"method": "PUT", "url": f"Procedure/{procedure['resource']['id']}"},
            },
            {
                "resource": {"resourceType": "Patient", "birthDate": "not a date"},
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    assert (await client.post("", json=broken)).status_code >= 400
    assert await _queued(ctx) == set()

    # Deleting the patient's procedure queues the patient; deriving moves the stage back.
    deleted = await client.delete(f"Procedure/{procedure['resource']['id']}")
    assert deleted.status_code == 204
    assert await _queued(ctx) == {patient_id}
    done = await derivation.drain(ctx)
    assert done.patients == 1 and done.written >= 1
    after = (await client.get("CarePlan", params={"subject": f"Patient/{patient_id}"})).json()
    stages = {e["resource"]["id"]: _stage(e["resource"]) for e in after["entry"]}
    assert stages != treated_stage


def test_cli_ingest_derives_and_pathway_rebuild_reports_nothing_changed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    migrate.upgrade(url)
    runner = CliRunner()
    files = sorted(str(p) for p in (FEEDS / "kings").glob("*.hl7"))
    ingested = runner.invoke(cli, ["ingest", "--centre", "kings", *files, "--database-url", url])
    assert ingested.exit_code == 0, ingested.output

    status = runner.invoke(cli, ["pathway", "status", "--database-url", url])
    assert status.exit_code == 0, status.output
    found = re.search(r"(\d+) patients queued, (\d+) episodes derived", status.output)
    assert found is not None, status.output
    assert found.group(1) == "0" and int(found.group(2)) > 0

    rebuilt = runner.invoke(cli, ["pathway", "rebuild", "--database-url", url])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"{found.group(2)} episodes: 0 CarePlans written, 0 removed" in rebuilt.output


async def test_a_referral_to_an_organization_written_over_rest_is_attributed_to_its_centre(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A vendor posting through the REST API names Organizations by its own ids: their ODS
    site code says which centre, as the ingest's deterministic ids do."""
    from tests.pathway import builders

    kings = {
        "resourceType": "Organization",
        "id": "vendor-kch-denmark-hill",
        "identifier": [
            {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RJZ"},
            {"system": "https://fhir.nhs.uk/Id/ods-site-code", "value": "RJZ01"},
        ],
        "name": "King's College Hospital",
    }
    pat = builders.patient()
    ref = builders.referral(pat, "kings", "VND-REF-1", "2025-06-02T09:00:00+01:00")
    ref["identifier"] = [{"system": "https://fhir.nhs.uk/Id/UBRN", "value": "000012345678"}]
    ref["performer"] = [{"reference": "Organization/vendor-kch-denmark-hill"}]
    ref.pop("reasonReference")
    for resource in (kings, pat, ref):
        written = await client.put(f"{resource['resourceType']}/{resource['id']}", json=resource)
        assert written.status_code in (200, 201), written.text

    await derivation.drain(app.state.fhir)

    async with app.state.fhir.db.read() as conn:
        (episode,) = await episode_rows.of_patient(conn, pat["id"])
    assert (episode.referral_centre, episode.centres) == ("RJZ01", ("RJZ01",))


async def test_a_bulk_drain_leaves_the_queue_without_dead_rows(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL keeps a deleted queue entry until a vacuum; after a bulk derivation every
    claim would read them all (1 ms a claim after 20,000 patients), so the drain vacuums."""
    ctx: FhirContext = app.state.fhir
    if ctx.db.dialect != "postgresql":
        pytest.skip("SQLite frees a deleted row's space in the same transaction")
    monkeypatch.setattr(derivation, "BATCH", 4)  # the fixtures then make a bulk drain
    await _ingest_fixtures(client)
    queued = len(await _queued(ctx))
    assert queued > derivation.BATCH

    done = await derivation.drain(ctx)

    assert done.patients == queued
    async with ctx.db.read() as conn:
        row = await conn.fetchrow("SELECT pg_relation_size('pathway_dirty')")
    assert row is not None and row[0] == 0, "the emptied queue still holds its dead rows"
