"""Multi-centre pathway scenarios end to end: inputs as the centres send them (``POST
/ingest/{centre}``) or as their mappings store them (FHIR REST), then ``$pathway`` and the
stored CarePlans. Derivation is eventually consistent (a queue); the tests drain it where
they look at CarePlans directly, and ``$pathway`` drains its own patient."""

from __future__ import annotations

import random
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import empty_tables
from tests.pathway import builders as b
from tests.pathway import pathway_http as h

NHS = "9990000980"
SGH_HEADER = (
    "Referral ID,NHS No,Hosp No,Surname,Forename,DOB,Sex,Postcode,Date of Referral,"
    "Referral Source,Referring Org Code,Reason Code,Reason,Aetiology,Priority,Referred To,"
    "Status,Last Updated,Clinic Notes"
)
HF_HEADER = (
    "PROC_ID;NHS_NUMBER;MRN;SURNAME;FORENAME;DATE_OF_BIRTH;GENDER;PROC_CODE;PROC_DESC;"
    "PROC_DATE;APPROACH;DEVICE;REFERRING_HOSP;REFERRAL_REF;CONSULTANT;THEATRE;OUTCOME;COMMENTS"
)


def _sgh(status: str = "Referred On", referred: str = "06/01/2025") -> bytes:
    row = (
        f"SGH-R-000901,999 000 0980,G0215595,Garcia,Kwame,06/01/1940,Male,SW17 5NF,{referred},"
        "GP,H83894,SG.REF.MR,Referral: mitral regurgitation,Secondary,Routine,RJ122,"
        f"{status},{referred}15:27,"
    )
    return ("\ufeff" + SGH_HEADER + "\r\n" + row + "\r\n").encode()


def _harefield(day: str = "24-Mar-2025", outcome: str = "Completed") -> bytes:
    row = (
        f"HFP000901;{NHS};HH215595;GARCIA;Kwame;06-Jan-1940;M;HF/MV/TEER;Mitral TEER;"
        f"{day} 08:15;TRANSSEPTAL;MitraClip G4;RJ122;GST-ORD-000901;Dr C Okonjo;CL2;{outcome};"
    )
    return (HF_HEADER + "\r\n" + row + "\r\n").encode("cp1252")


async def _ingest(client: httpx.AsyncClient, centre: str, body: bytes) -> None:
    response = await client.post(
        f"http://testserver/ingest/{centre}", content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert (receipt["units"], receipt["quarantined"]) == (1, 0), response.text


def _hub(pat: dict[str, Any]) -> list[dict[str, Any]]:
    """Heart team at St Thomas' (as its Bundles map), follow-up back at St George's."""
    return [
        b.mdt(
            pat, "st-thomas", "GST-ENC-000901", "2025-02-10T11:30:00+00:00", "transcatheter-repair"
        ),
        b.clinic(pat, "st-georges", "SGH-APT-000902", "2025-05-12T10:15:00+01:00"),
    ]


async def _careplan_versions(client: httpx.AsyncClient, patient_id: str) -> dict[str, str]:
    page = (await client.get("CarePlan", params={"patient": patient_id})).json()
    return {e["resource"]["id"]: e["resource"]["meta"]["versionId"] for e in page.get("entry", [])}


async def test_referral_mdt_teer_follow_up_across_four_centres_from_their_feeds(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    pat = b.patient(NHS)
    await _ingest(client, "st-georges", _sgh())
    await h.put_all(client, _hub(pat))
    await _ingest(client, "harefield", _harefield())
    with h.fixed_today(app):
        body = await h.pathway(client, pat["id"])
    (ep,) = h.episodes(body)
    assert (ep["stage"], ep["status"], ep["referred"], ep["mdt"], ep["treated"]) == (
        "follow-up",
        "completed",
        "2025-01-06",
        "2025-02-10",
        "2025-03-24",
    )
    assert ep["centres"] == ["RJ122", "RJ181", "RJ701"]
    assert (ep["decision"], ep["modality"]) == (
        "decision-transcatheter-repair",
        "transcatheter-repair",
    )
    assert (ep["wait-referral-to-mdt"], ep["wait-mdt-to-treatment"]) == (35, 42)
    assert (ep["rtt-status"], ep["rtt-clock"], ep["rtt-weeks"]) == ("90", "stopped", 11)
    assert [a["centre"] for a in ep["activity"]] == ["RJ701", "RJ122", "RJ181", "RJ701"]
    (careplan,) = h.careplans(body)
    verdict = await client.post("CarePlan/$validate", json=careplan)
    assert not [i for i in verdict.json()["issue"] if i["severity"] in ("error", "fatal")]

    # a corrected procedure date (Harefield sends the row again) updates the same CarePlan
    await _ingest(client, "harefield", _harefield("26-Mar-2025"))
    with h.fixed_today(app):
        fixed = await h.pathway(client, pat["id"])
    (again,) = h.episodes(fixed)
    (updated,) = h.careplans(fixed)
    assert updated["id"] == careplan["id"]
    assert int(updated["meta"]["versionId"]) == int(careplan["meta"]["versionId"]) + 1
    assert (again["treated"], again["wait-mdt-to-treatment"]) == ("2025-03-26", 44)

    # the same feeds again change nothing
    await _ingest(client, "st-georges", _sgh())
    await _ingest(client, "harefield", _harefield("26-Mar-2025"))
    await h.put_all(client, _hub(pat))
    assert (await h.derive(app)).written == 0
    assert await _careplan_versions(client, pat["id"]) == {
        updated["id"]: updated["meta"]["versionId"]
    }


async def test_the_same_messages_in_any_order_give_the_same_careplan(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    pat = b.patient()
    journey = [pat, *b.regional_journey(pat)]
    found = []
    for seed in (None, 3, 11):
        await empty_tables(app)
        order = list(journey)
        if seed is not None:
            random.Random(seed).shuffle(order)
        for resource in order:
            await h.put(client, resource)
            await h.derive(app)  # derive after every message: intermediate states too
        with h.fixed_today(app):
            body = await h.pathway(client, pat["id"])
        (careplan,) = h.careplans(body)
        found.append(({k: v for k, v in careplan.items() if k != "meta"}, h.episodes(body)))
    assert found[0] == found[1] == found[2]
    assert found[0][1][0]["stage"] == "discharged"


async def test_a_correction_updates_the_careplan_in_place(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    pat = b.patient()
    await h.put_all(client, [pat, *b.regional_journey(pat)])
    await h.derive(app)
    versions = await _careplan_versions(client, pat["id"])
    moved = b.procedure(pat, "BHC-PROC-000301", "2025-03-31T08:15:00+01:00")
    await h.put(client, moved)
    # an A08-style demographic correction that the pathway does not depend on
    await h.put(client, b.patient(name=[{"family": "Garcia-Lopez", "given": ["Kwame"]}]))
    with h.fixed_today(app):
        (ep,) = h.episodes(await h.pathway(client, pat["id"]))
    after = await _careplan_versions(client, pat["id"])
    assert list(after) == list(versions)
    (cid,) = after
    assert int(after[cid]) == int(versions[cid]) + 1
    assert (ep["treated"], ep["wait-referral-to-treatment"], ep["rtt-weeks"]) == (
        "2025-03-31",
        84,
        12,
    )


async def test_cancellations_revoke_or_untreat(app: FastAPI, client: httpx.AsyncClient) -> None:
    pat = b.patient()
    ref = b.referral(pat, "kings", "KCH-REF-000950", "2025-01-06T10:15:00+00:00", status="revoked")
    await h.put_all(client, [pat, ref])
    (ep,) = h.episodes(await h.pathway(client, pat["id"]))
    assert (ep["status"], ep["activity"][0]["status"]) == ("revoked", "cancelled")
    assert "rtt-status" not in ep and "rtt-clock" not in ep

    other = b.patient("9990000492")
    journey = b.regional_journey(other)[:-1]
    journey[-1] = b.procedure(
        other, "BHC-PROC-000301", "2025-03-24T08:15:00+00:00", status="not-done"
    )
    await h.put_all(client, [other, *journey])
    with h.fixed_today(app, "2025-04-01"):
        (running,) = h.episodes(await h.pathway(client, other["id"]))
    assert (running["stage"], running["status"]) == ("treatment-scheduled", "active")
    assert "treated" not in running
    assert (running["rtt-status"], running["rtt-clock"], running["wait-referral-to-treatment"]) == (
        "20",
        "running",
        85,
    )


async def test_death_before_treatment_is_an_exit(app: FastAPI, client: httpx.AsyncClient) -> None:
    pat = b.patient()
    journey = b.regional_journey(pat)[:5]  # referred, worked up, MDT decided TEER
    await h.put_all(client, [pat, *journey])
    await h.derive(app)
    await h.put(client, b.patient(deceasedDateTime="2025-03-01T06:00:00+00:00"))
    with h.fixed_today(app):
        (ep,) = h.episodes(await h.pathway(client, pat["id"]))
    assert (ep["stage"], ep["status"], ep["exit"], ep["ended"]) == (
        "died",
        "completed",
        "died",
        "2025-03-01",
    )
    assert (ep["rtt-status"], ep["rtt-clock"], ep["rtt-weeks"]) == ("36", "stopped", 7)
    assert "wait-referral-to-treatment" not in ep


async def test_a_patient_with_two_episodes(app: FastAPI, client: httpx.AsyncClient) -> None:
    pat = b.patient()
    second = b.referral(pat, "st-georges", "SGH-R-000960", "2026-02-02T09:00:00+00:00")
    await h.put_all(client, [pat, *b.regional_journey(pat), second])
    with h.fixed_today(app, "2026-03-02"):
        body = await h.pathway(client, pat["id"])
    first, later = h.episodes(body)
    assert (first["number"], first["stage"], first["status"]) == (1, "discharged", "completed")
    assert (later["number"], later["stage"], later["status"]) == (2, "referred", "active")
    assert (later["referred"], later["centres"], later["rtt-weeks"]) == ("2026-02-02", ["RJ701"], 4)
    assert len(h.careplans(body)) == 2
    assert first["careplan"] != later["careplan"]


async def test_an_a40_merge_moves_everything_to_the_survivor(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """King's registered the patient twice; A40 retires one record into the other. The store
    sees what the merge writes: the retired Patient inactive and replaced-by, its resources
    re-pointed at the survivor."""
    survivor, retired = b.patient("9990000980"), b.patient("9990000492")
    journey = b.regional_journey(survivor)
    early, late = journey[:4], journey[4:]
    await h.put_all(client, [survivor, retired, *early])
    for resource in late:
        await h.put(client, {**resource, "subject": b.subject(retired)})
    await h.derive(app)
    assert len(await _careplan_versions(client, retired["id"])) == 1

    merged = {
        **retired,
        "active": False,
        "link": [{"other": b.subject(survivor), "type": "replaced-by"}],
    }
    await h.put(client, merged)
    for resource in late:
        await h.put(client, resource)
    (ep,) = h.episodes(await h.pathway(client, survivor["id"]))
    assert (ep["stage"], ep["treated"], ep["centres"]) == (
        "discharged",
        "2025-03-24",
        ["R1H", "RJ122", "RJZ01"],
    )
    retired_answer = await h.pathway(client, retired["id"])
    assert h.episodes(retired_answer) == []
    assert await _careplan_versions(client, retired["id"]) == {}
    assert len(await _careplan_versions(client, survivor["id"])) == 1
