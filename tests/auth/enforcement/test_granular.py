"""Granular (query-parameter) scopes, as the US Core test kit's granular-scope groups use
them: ``patient/Observation.rs?category=...|laboratory`` narrows reads and searches."""

from __future__ import annotations

import httpx

from tests.auth.enforcement.conftest import LAB, VITALS, bearer, ids, mint
from tests.factories import bundle_of, request_entry

LAB_ONLY = bearer(mint(f"patient/Observation.rs?category={LAB} patient/Patient.rs", patient="pa"))
BOTH = bearer(
    mint(
        f"patient/Observation.rs?category={LAB} patient/Observation.rs?category={VITALS}",
        patient="pa",
    )
)


async def test_search_returns_only_the_granted_category(secured: httpx.AsyncClient) -> None:
    found = ids(await secured.get("Observation", headers=LAB_ONLY))
    assert found == ["Observation/obs-a-lab", "Observation/obs-a-perf"]
    outside = ids(await secured.get(f"Observation?category={VITALS}", headers=LAB_ONLY))
    assert outside == []
    count = await secured.get("Observation?_summary=count", headers=LAB_ONLY)
    assert count.json()["total"] == 2


async def test_read_outside_the_category_is_not_found(secured: httpx.AsyncClient) -> None:
    assert (await secured.get("Observation/obs-a-lab", headers=LAB_ONLY)).status_code == 200
    vital = await secured.get("Observation/obs-a-vital", headers=LAB_ONLY)
    assert vital.status_code == 404


async def test_two_granular_scopes_grant_their_union(secured: httpx.AsyncClient) -> None:
    found = ids(await secured.get("Observation", headers=BOTH))
    assert found == ["Observation/obs-a-lab", "Observation/obs-a-perf", "Observation/obs-a-vital"]
    assert (await secured.get("Observation/obs-a-vital", headers=BOTH)).status_code == 200


async def test_includes_and_bundle_reads_respect_the_filter(secured: httpx.AsyncClient) -> None:
    included = await secured.get("Patient?_revinclude=Observation:subject", headers=LAB_ONLY)
    assert ids(included, "include") == ["Observation/obs-a-lab", "Observation/obs-a-perf"]
    batch = bundle_of(
        "batch",
        [request_entry("GET", "Observation/obs-a-vital"), request_entry("GET", "Observation")],
    )
    response = await secured.post("", json=batch, headers=LAB_ONLY)
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"].startswith("404")
    assert len(entries[1]["resource"]["entry"]) == 2


async def test_user_level_granular_scope(secured: httpx.AsyncClient) -> None:
    token = bearer(mint(f"user/Observation.rs?category={LAB}"))
    found = ids(await secured.get("Observation", headers=token))
    assert found == ["Observation/obs-a-lab", "Observation/obs-a-perf", "Observation/obs-b-lab"]
