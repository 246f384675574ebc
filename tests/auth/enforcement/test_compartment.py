"""A patient-context token (patient A) against patient B's records through every route: each
attempt sees exactly what it would if B's records did not exist."""

from __future__ import annotations

import httpx
import pytest

from tests.auth.enforcement.conftest import SYSTEM, VITALS, bearer, ids, mint, observation
from tests.factories import JSON_PATCH_HEADERS, assert_outcome, bundle_of, request_entry

A = bearer(mint("launch/patient patient/*.rs", patient="pa"))
A_WRITE = bearer(mint("patient/*.cruds", patient="pa"))


async def _not_found_like_unknown(client: httpx.AsyncClient, url: str) -> None:
    hidden = await client.get(url, headers=A)
    unknown = await client.get(url.replace("-b-", "-zz-").replace("/pb", "/pzz"), headers=A)
    assert hidden.status_code == unknown.status_code == 404, hidden.text
    hidden_text = hidden.json()["issue"][0]["diagnostics"]
    unknown_text = unknown.json()["issue"][0]["diagnostics"]
    assert hidden_text.replace("-b-", "-zz-").replace("/pb", "/pzz") == unknown_text


@pytest.mark.parametrize(
    "url",
    [
        "Patient/pb",
        "Observation/obs-b-lab",
        "Observation/obs-b-lab/_history/1",
        "Observation/obs-b-lab/_history",
        "Observation/obs-b-gone",
        "ServiceRequest/sr-b",
        "Patient/pb/$pathway",
        "Patient/pb/$everything",
        "Observation/obs-b-lab/$validate",
    ],
)
async def test_reads_of_another_patient_look_like_unknown_ids(
    secured: httpx.AsyncClient, url: str
) -> None:
    await _not_found_like_unknown(secured, url)


async def test_own_records_and_shared_types_are_readable(secured: httpx.AsyncClient) -> None:
    for url in ("Patient/pa", "Observation/obs-a-lab", "Organization/org1", "Patient/pa/$pathway"):
        response = await secured.get(url, headers=A)
        assert response.status_code == 200, (url, response.text)


async def test_a_resource_in_both_compartments_is_visible(secured: httpx.AsyncClient) -> None:
    """obs-a-perf names B as performer: it is in both compartments (R4 definition)."""
    response = await secured.get(
        "Observation/obs-a-perf", headers=bearer(mint("patient/Observation.r", patient="pb"))
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("Patient", ["Patient/pa"]),
        ("Patient?family=Hughes", []),
        ("Patient?_id=pb", []),
        (
            "Observation",
            ["Observation/obs-a-lab", "Observation/obs-a-perf", "Observation/obs-a-vital"],
        ),
        ("Observation?subject=Patient/pb", []),
        ("Observation?subject:Patient.family=Hughes", []),
        ("ServiceRequest", ["ServiceRequest/sr-a"]),
        ("Patient/pb/Observation", []),
        ("Patient/pa/ServiceRequest", ["ServiceRequest/sr-a"]),
        ("Patient?_has:Observation:subject:status=final", ["Patient/pa"]),
        ("Bundle", []),
        ("Organization", ["Organization/org1"]),
    ],
)
async def test_searches_are_confined_to_the_compartment(
    secured: httpx.AsyncClient, url: str, expected: list[str]
) -> None:
    assert ids(await secured.get(url, headers=A)) == expected


async def test_links_keep_the_form_the_client_used(secured: httpx.AsyncClient) -> None:
    body = (await secured.get("Observation?_count=1&status=final", headers=A)).json()
    links = {link["relation"]: link["url"] for link in body["link"]}
    assert links["self"].startswith("http://testserver/fhir/Observation?")
    assert links["next"].startswith("http://testserver/fhir/Observation?")
    following = await secured.get(links["next"], headers=A)
    assert ids(following)[0].startswith("Observation/obs-a-")


async def test_totals_count_only_the_compartment(secured: httpx.AsyncClient) -> None:
    body = (await secured.get("Observation?_summary=count", headers=A)).json()
    assert body["total"] == 3
    body = (await secured.get("Observation?_total=accurate", headers=A)).json()
    assert body["total"] == 3


async def test_includes_do_not_leak(secured: httpx.AsyncClient) -> None:
    forward = await secured.get(
        "Observation?_id=obs-a-perf&_include=Observation:performer&_include=Observation:subject",
        headers=A,
    )
    assert ids(forward, "include") == ["Patient/pa"]  # Patient/pb (performer) filtered out
    reverse = await secured.get("Patient?_revinclude=Observation:subject", headers=A)
    assert ids(reverse, "include") == [
        "Observation/obs-a-lab",
        "Observation/obs-a-perf",
        "Observation/obs-a-vital",
    ]
    iterate = await secured.get(
        "ServiceRequest?_include=ServiceRequest:subject&_revinclude:iterate=Observation:subject",
        headers=A,
    )
    assert "Observation/obs-b-lab" not in ids(iterate, "include")
    only_obs = bearer(mint("patient/Observation.rs", patient="pa"))
    no_patient_scope = await secured.get(
        "Observation?_include=Observation:subject", headers=only_obs
    )
    assert ids(no_patient_scope, "include") == []


async def test_everything_is_the_own_record_within_the_scopes(
    secured: httpx.AsyncClient,
) -> None:
    own = await secured.get("Patient/pa/$everything", headers=A)
    assert ids(own) == [
        "Encounter/enc-a",
        "Observation/obs-a-lab",
        "Observation/obs-a-perf",
        "Observation/obs-a-vital",
        "Patient/pa",
        "ServiceRequest/sr-a",
    ]
    assert ids(own, "include") == []  # obs-a-perf's performer, Patient/pb, stays out
    vitals = bearer(
        mint("patient/Patient.r patient/Observation.rs?category=" + VITALS, patient="pa")
    )
    narrowed = await secured.get("Patient/pa/$everything", headers=vitals)
    assert ids(narrowed) == ["Observation/obs-a-vital", "Patient/pa"]
    assert narrowed.json()["total"] == 2
    no_patient = bearer(mint("patient/Observation.rs", patient="pa"))
    assert_outcome(
        await secured.get("Patient/pa/$everything", headers=no_patient), 403, "forbidden"
    )


async def test_history_is_confined(secured: httpx.AsyncClient) -> None:
    type_history = await secured.get("Observation/_history", headers=A)
    found = {e["resource"]["id"] for e in type_history.json()["entry"] if "resource" in e}
    assert found == {"obs-a-lab", "obs-a-vital", "obs-a-perf"}
    assert_outcome(await secured.get("_history", headers=A), 403, "forbidden")
    assert_outcome(await secured.get("?_type=Observation", headers=A), 403, "forbidden")


async def test_batch_and_transaction_entries_are_each_checked(
    secured: httpx.AsyncClient,
) -> None:
    batch = bundle_of(
        "batch",
        [
            request_entry("GET", "Patient/pb"),
            request_entry("GET", "Patient/pa"),
            request_entry("GET", "Observation?subject=Patient/pb"),
            {
                "resource": observation("x1", "Patient/pb", "a|b"),
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    )
    batch["entry"][3]["resource"]["category"][0]["coding"][0]["code"] = "laboratory"
    response = await secured.post("", json=batch, headers=A_WRITE)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"][:3] for e in response.json()["entry"]]
    assert statuses == ["404", "200", "200", "403"]
    searched = response.json()["entry"][2]["resource"]
    assert searched.get("total", 0) == 0 and not searched.get("entry")

    transaction = bundle_of(
        "transaction",
        [
            {
                "resource": observation("x2", "Patient/pa", "a|laboratory"),
                "request": {"method": "PUT", "url": "Observation/x2"},
            },
            {
                "resource": observation("x3", "Patient/pb", "a|laboratory"),
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    )
    refused = await secured.post("", json=transaction, headers=A_WRITE)
    assert_outcome(refused, 403, "forbidden")
    everything = await secured.get("Observation?_summary=count", headers=SYSTEM)
    assert everything.json()["total"] == 4  # nothing from the failed transaction


async def test_writes_stay_inside_the_compartment(secured: httpx.AsyncClient) -> None:
    own = observation("obs-a-new", "Patient/pa", "a|laboratory")
    created = await secured.post("Observation", json=own, headers=A_WRITE)
    assert created.status_code == 201, created.text
    foreign = observation("obs-b-new", "Patient/pb", "a|laboratory")
    assert_outcome(
        await secured.post("Observation", json=foreign, headers=A_WRITE), 403, "forbidden"
    )
    moved = {**observation("obs-a-lab", "Patient/pb", "a|laboratory")}
    assert_outcome(
        await secured.put("Observation/obs-a-lab", json=moved, headers=A_WRITE), 403, "forbidden"
    )
    b_update = observation("obs-b-lab", "Patient/pa", "a|laboratory")
    assert_outcome(
        await secured.put("Observation/obs-b-lab", json=b_update, headers=A_WRITE), 404, "not-found"
    )
    patch = [{"op": "replace", "path": "/status", "value": "amended"}]
    b_patch = await secured.patch(
        "Observation/obs-b-lab", json=patch, headers={**A_WRITE, **JSON_PATCH_HEADERS}
    )
    assert_outcome(b_patch, 404, "not-found")
    deleted = await secured.delete("Observation/obs-b-lab", headers=A_WRITE)
    assert deleted.status_code == 204
    still_there = await secured.get("Observation/obs-b-lab", headers=SYSTEM)
    assert still_there.status_code == 200 and still_there.json()["status"] == "final"
    conditional = await secured.post(
        "Observation", json=own, headers={**A_WRITE, "If-None-Exist": "subject=Patient/pb"}
    )
    assert_outcome(conditional, 403, "forbidden")


async def test_patient_scopes_without_a_patient_in_context_are_refused(
    secured: httpx.AsyncClient,
) -> None:
    response = await secured.get("Observation", headers=bearer(mint("patient/*.rs")))
    assert_outcome(response, 403, "forbidden", "patient in context")


async def test_user_scopes_are_not_confined(secured: httpx.AsyncClient) -> None:
    token = bearer(mint("patient/*.rs user/Observation.rs", patient="pa"))
    assert len(ids(await secured.get("Observation", headers=token))) == 4
    assert ids(await secured.get("Patient", headers=token)) == ["Patient/pa"]
