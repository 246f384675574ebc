"""Granular scopes narrow writes as they narrow reads (SMART App Launch 2.x): a
``patient/Observation.cruds?category=...|laboratory`` token creates, updates, patches and
deletes laboratory Observations only, and what it may not touch looks as if it did not exist."""

from __future__ import annotations

from typing import Any

import httpx

from tests.auth.enforcement.conftest import LAB, SYSTEM, VITALS, bearer, mint, observation
from tests.factories import (
    JSON_PATCH_HEADERS,
    assert_outcome,
    bundle_of,
    patch_entry,
    post_entry,
    request_entry,
)

LAB_WRITE = bearer(mint(f"patient/Observation.cruds?category={LAB}", patient="pa"))
USER_LAB_WRITE = bearer(mint(f"user/Observation.cud?category={LAB}"))
TO_VITALS = [{"op": "replace", "path": "/category/0/coding/0/code", "value": "vital-signs"}]
AMEND = [{"op": "replace", "path": "/status", "value": "amended"}]


async def _stored(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url, headers=SYSTEM)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _count(client: httpx.AsyncClient, query: str = "") -> int:
    response = await client.get(f"Observation?_summary=count{query}", headers=SYSTEM)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def _put_entry(resource: dict[str, Any]) -> dict[str, Any]:
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"resource": resource, "request": {"method": "PUT", "url": url}}


async def _like_unknown(hidden: httpx.Response, unknown: httpx.Response) -> None:
    """``hidden`` (a stored id out of reach) reads exactly as ``unknown`` (obs-zz)."""
    assert_outcome(hidden, 404, "not-found")
    assert_outcome(unknown, 404, "not-found")
    hidden_text = hidden.json()["issue"][0]["diagnostics"]
    assert hidden_text.replace("obs-a-vital", "obs-zz") == unknown.json()["issue"][0]["diagnostics"]


async def test_create_must_match_the_filter(secured: httpx.AsyncClient) -> None:
    lab = observation("ignored", "Patient/pa", LAB)
    assert (await secured.post("Observation", json=lab, headers=LAB_WRITE)).status_code == 201
    vitals_before = await _count(secured, f"&category={VITALS}")
    vital = observation("ignored", "Patient/pa", VITALS)
    refused = await secured.post("Observation", json=vital, headers=LAB_WRITE)
    assert_outcome(refused, 403, "forbidden", "laboratory", expression="Observation")
    assert await _count(secured, f"&category={VITALS}") == vitals_before


async def test_user_level_filter_narrows_creates_without_a_compartment(
    secured: httpx.AsyncClient,
) -> None:
    lab_b = observation("ignored", "Patient/pb", LAB)
    assert (
        await secured.post("Observation", json=lab_b, headers=USER_LAB_WRITE)
    ).status_code == 201
    vital_b = observation("ignored", "Patient/pb", VITALS)
    refused = await secured.post("Observation", json=vital_b, headers=USER_LAB_WRITE)
    assert_outcome(refused, 403, "forbidden")


async def test_a_filter_on_an_unknown_parameter_allows_no_write(
    secured: httpx.AsyncClient,
) -> None:
    token = bearer(mint("user/Observation.c?no-such-parameter=x"))
    lab = observation("ignored", "Patient/pa", LAB)
    assert_outcome(await secured.post("Observation", json=lab, headers=token), 403, "forbidden")


async def test_update_inside_and_outside_the_filter(secured: httpx.AsyncClient) -> None:
    amended = observation("obs-a-lab", "Patient/pa", LAB, status="amended")
    updated = await secured.put("Observation/obs-a-lab", json=amended, headers=LAB_WRITE)
    assert updated.status_code == 200, updated.text
    assert (await _stored(secured, "Observation/obs-a-lab"))["status"] == "amended"

    vital = observation("obs-a-vital", "Patient/pa", VITALS, status="amended")
    hidden = await secured.put("Observation/obs-a-vital", json=vital, headers=LAB_WRITE)
    unknown = await secured.put(
        "Observation/obs-zz", json={**vital, "id": "obs-zz"}, headers=LAB_WRITE
    )
    await _like_unknown(hidden, unknown)
    stored = await _stored(secured, "Observation/obs-a-vital")
    assert stored["status"] == "final" and stored["meta"]["versionId"] == "1"


async def test_update_cannot_move_a_resource_out_of_the_filter(
    secured: httpx.AsyncClient,
) -> None:
    before = await _stored(secured, "Observation/obs-a-lab")
    moved = observation("obs-a-lab", "Patient/pa", VITALS)
    refused = await secured.put("Observation/obs-a-lab", json=moved, headers=LAB_WRITE)
    assert_outcome(refused, 403, "forbidden", "laboratory", expression="Observation")
    assert await _stored(secured, "Observation/obs-a-lab") == before
    history = await secured.get("Observation/obs-a-lab/_history", headers=SYSTEM)
    assert len(history.json()["entry"]) == 1


async def test_update_as_create_is_refused_under_a_filter(secured: httpx.AsyncClient) -> None:
    """As for the compartment: creating at a free id would tell it from an id out of reach."""
    new_lab = observation("obs-a-new", "Patient/pa", LAB)
    for token in (LAB_WRITE, USER_LAB_WRITE):  # confined and filtered; filtered only
        refused = await secured.put("Observation/obs-a-new", json=new_lab, headers=token)
        assert_outcome(refused, 404, "not-found", "Observation/obs-a-new is not known")
        gone = await secured.get("Observation/obs-a-new", headers=SYSTEM)
        assert gone.status_code == 404


async def test_patch_inside_and_outside_the_filter(secured: httpx.AsyncClient) -> None:
    headers = {**LAB_WRITE, **JSON_PATCH_HEADERS}
    patched = await secured.patch("Observation/obs-a-lab", json=AMEND, headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "amended"

    hidden = await secured.patch("Observation/obs-a-vital", json=AMEND, headers=headers)
    unknown = await secured.patch("Observation/obs-zz", json=AMEND, headers=headers)
    await _like_unknown(hidden, unknown)
    assert (await _stored(secured, "Observation/obs-a-vital"))["status"] == "final"

    before = await _stored(secured, "Observation/obs-a-lab")
    refused = await secured.patch("Observation/obs-a-lab", json=TO_VITALS, headers=headers)
    assert_outcome(refused, 403, "forbidden", expression="Observation")
    assert await _stored(secured, "Observation/obs-a-lab") == before


async def test_delete_inside_and_outside_the_filter(secured: httpx.AsyncClient) -> None:
    hidden = await secured.delete("Observation/obs-a-vital", headers=LAB_WRITE)
    unknown = await secured.delete("Observation/obs-zz", headers=LAB_WRITE)
    assert hidden.status_code == unknown.status_code == 204
    assert "etag" not in hidden.headers and "etag" not in unknown.headers
    still = await _stored(secured, "Observation/obs-a-vital")
    assert still["meta"]["versionId"] == "1"

    deleted = await secured.delete("Observation/obs-a-lab", headers=LAB_WRITE)
    assert deleted.status_code == 204
    assert (await secured.get("Observation/obs-a-lab", headers=SYSTEM)).status_code == 410


async def test_transaction_of_matching_entries_commits(secured: httpx.AsyncClient) -> None:
    transaction = bundle_of(
        "transaction",
        [
            post_entry(observation("ignored", "Patient/pa", LAB), "urn:uuid:1"),
            _put_entry(observation("obs-a-lab", "Patient/pa", LAB, status="amended")),
            patch_entry("Observation/obs-a-perf", AMEND),
        ],
    )
    response = await secured.post("", json=transaction, headers=LAB_WRITE)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"][:3] for e in response.json()["entry"]]
    assert statuses == ["201", "200", "200"]
    assert (await _stored(secured, "Observation/obs-a-perf"))["status"] == "amended"


async def test_transaction_with_one_refused_entry_writes_nothing(
    secured: httpx.AsyncClient,
) -> None:
    before = await _count(secured)
    lab_before = await _stored(secured, "Observation/obs-a-lab")
    for refused_entry, status in (
        (post_entry(observation("ignored", "Patient/pa", VITALS)), 403),
        (_put_entry(observation("obs-a-vital", "Patient/pa", VITALS, status="amended")), 404),
        (patch_entry("Observation/obs-a-perf", TO_VITALS), 403),
    ):
        transaction = bundle_of(
            "transaction",
            [
                post_entry(observation("ignored", "Patient/pa", LAB), "urn:uuid:1"),
                _put_entry(observation("obs-a-lab", "Patient/pa", LAB, status="amended")),
                refused_entry,
            ],
        )
        response = await secured.post("", json=transaction, headers=LAB_WRITE)
        assert_outcome(response, status, "forbidden" if status == 403 else "not-found")
        assert await _count(secured) == before
        assert await _stored(secured, "Observation/obs-a-lab") == lab_before
        assert (await _stored(secured, "Observation/obs-a-perf"))["status"] == "final"


async def test_batch_entries_are_checked_one_by_one(secured: httpx.AsyncClient) -> None:
    batch = bundle_of(
        "batch",
        [
            post_entry(observation("ignored", "Patient/pa", LAB)),
            post_entry(observation("ignored", "Patient/pa", VITALS)),
            _put_entry(observation("obs-a-lab", "Patient/pa", LAB, status="amended")),
            _put_entry(observation("obs-a-vital", "Patient/pa", VITALS, status="amended")),
            patch_entry("Observation/obs-a-perf", TO_VITALS),
            request_entry("DELETE", "Observation/obs-a-vital"),
        ],
    )
    response = await secured.post("", json=batch, headers=LAB_WRITE)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"][:3] for e in response.json()["entry"]]
    assert statuses == ["201", "403", "200", "404", "403", "204"]
    assert (await _stored(secured, "Observation/obs-a-lab"))["status"] == "amended"
    perf = await _stored(secured, "Observation/obs-a-perf")
    assert perf["category"][0]["coding"][0]["code"] == "laboratory"
    vital = await _stored(secured, "Observation/obs-a-vital")
    assert vital["status"] == "final" and vital["meta"]["versionId"] == "1"


async def test_an_unfiltered_grant_is_not_narrowed(secured: httpx.AsyncClient) -> None:
    """A broader grant applies: the compartment still confines a patient/ one (so no
    update-as-create there), a user/ one is not confined at all."""
    for scope, put_new in (
        (f"patient/Observation.cruds?category={LAB} patient/Observation.cud", 404),
        (f"patient/Observation.cruds?category={LAB} user/Observation.cud", 201),
    ):
        token = bearer(mint(scope, patient="pa"))
        vital = observation("ignored", "Patient/pa", VITALS)
        created = await secured.post("Observation", json=vital, headers=token)
        assert created.status_code == 201, created.text
        moved = observation("obs-a-lab", "Patient/pa", VITALS)
        updated = await secured.put("Observation/obs-a-lab", json=moved, headers=token)
        assert updated.status_code == 200, updated.text
        back = observation("obs-a-lab", "Patient/pa", LAB)
        restored = await secured.put("Observation/obs-a-lab", json=back, headers=token)
        assert restored.status_code == 200, restored.text
        new_id = f"obs-a-new-{put_new}"
        fresh = observation(new_id, "Patient/pa", VITALS)
        at_id = await secured.put(f"Observation/{new_id}", json=fresh, headers=token)
        assert at_id.status_code == put_new, at_id.text
        url = f"Observation/{created.json()['id']}"
        assert (await secured.delete(url, headers=token)).status_code == 204
        assert (await secured.get(url, headers=SYSTEM)).status_code == 410


async def test_two_granular_scopes_grant_their_union(secured: httpx.AsyncClient) -> None:
    token = bearer(
        mint(
            f"patient/Observation.cu?category={LAB} patient/Observation.cu?category={VITALS}",
            patient="pa",
        )
    )
    vital = observation("ignored", "Patient/pa", VITALS)
    assert (await secured.post("Observation", json=vital, headers=token)).status_code == 201
    moved = observation("obs-a-lab", "Patient/pa", VITALS)
    assert (
        await secured.put("Observation/obs-a-lab", json=moved, headers=token)
    ).status_code == 200
    other = observation("ignored", "Patient/pa", "x|exam")
    refused = await secured.post("Observation", json=other, headers=token)
    assert_outcome(refused, 403, "forbidden")
