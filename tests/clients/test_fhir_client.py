"""FhirClient against a respx-mocked upstream: what it sends, and what our caller sees when
the upstream fails."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from http import HTTPStatus

import httpx
import pytest
import respx

from app.clients import (
    BadGateway,
    FhirClient,
    GatewayTimeout,
    UpstreamBusy,
    UpstreamInvalid,
    UpstreamNotFound,
)
from app.errors import InvalidRequest, ResourceNotFound

BASE = "https://registry.example.nhs.uk/fhir"
PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
}


def outcome(code: str, diagnostics: str) -> dict[str, object]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


def bundle(ids: list[str], next_url: str | None) -> dict[str, object]:
    links = [{"relation": "self", "url": f"{BASE}/Patient"}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [{"resource": {"resourceType": "Patient", "id": i}} for i in ids],
    }


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[FhirClient, respx.MockRouter]]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        async with httpx.AsyncClient() as http:
            yield FhirClient(BASE, timeout=2.5, client=http), router


async def test_read_asks_for_fhir_json_and_returns_the_resource(upstream):
    client, router = upstream
    route = router.get("/Patient/p1").respond(200, json=PATIENT)

    found = await client.read("Patient", "p1")

    assert found == PATIENT
    sent = route.calls.last.request
    assert sent.headers["Accept"] == "application/fhir+json"
    assert str(sent.url) == f"{BASE}/Patient/p1"


async def test_read_quotes_the_id_so_it_cannot_change_the_path(upstream):
    client, router = upstream
    route = router.get(url__regex=r".*/Patient/a%2Fb$").respond(200, json=PATIENT)

    await client.read("Patient", "a/b")

    assert route.called


async def test_search_follows_next_links_across_pages(upstream):
    client, router = upstream
    second = f"{BASE}?_getpages=abc&_getpagesoffset=2"
    third = f"{BASE}?_getpages=abc&_getpagesoffset=4"
    router.get("/Patient", params={"identifier": "https://fhir.nhs.uk/Id/nhs-number|"}).respond(
        200, json=bundle(["a", "b"], second)
    )
    router.get(second).respond(200, json=bundle(["c", "d"], third))
    router.get(third).respond(200, json=bundle(["e"], None))

    params = {"identifier": "https://fhir.nhs.uk/Id/nhs-number|"}
    first_page = await client.search("Patient", params)
    pages = [page async for page in client.pages("Patient", params)]

    assert [e["resource"]["id"] for e in first_page["entry"]] == ["a", "b"]
    ids = [e["resource"]["id"] for page in pages for e in page["entry"]]
    assert ids == ["a", "b", "c", "d", "e"]


async def test_paging_stops_at_max_pages(upstream):
    client, router = upstream
    second = f"{BASE}?page=2"
    router.get("/Patient").respond(200, json=bundle(["a"], second))
    later = router.get(second).respond(200, json=bundle(["b"], f"{BASE}?page=3"))

    pages = [page async for page in client.pages("Patient", max_pages=2)]

    assert len(pages) == 2
    assert later.call_count == 1


async def test_a_next_link_to_another_server_is_not_followed(upstream):
    client, router = upstream
    router.get("/Patient").respond(200, json=bundle(["a"], "https://evil.example.com/steal"))

    with pytest.raises(BadGateway, match="another server"):
        _ = [page async for page in client.pages("Patient")]


async def test_operation_get_sends_query_parameters_with_lowercase_booleans(upstream):
    client, router = upstream
    route = router.get("/ValueSet/$expand").respond(
        200, json={"resourceType": "ValueSet", "expansion": {"contains": []}}
    )

    await client.operation(
        "ValueSet/$expand",
        {"url": "http://example.org/vs", "count": 10, "activeOnly": True, "property": ["a", "b"]},
    )

    query = route.calls.last.request.url.params
    assert query["url"] == "http://example.org/vs"
    assert query["count"] == "10"
    assert query["activeOnly"] == "true"
    assert query.get_list("property") == ["a", "b"]


async def test_operation_post_sends_a_fhir_json_parameters_body(upstream):
    client, router = upstream
    route = router.post("/CodeSystem/$lookup").respond(
        200, json={"resourceType": "Parameters", "parameter": []}
    )
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "coding", "valueCoding": {"system": "http://snomed.info/sct", "code": "x"}}
        ],
    }

    await client.operation("CodeSystem/$lookup", body=body, method="POST")

    sent = route.calls.last.request
    assert sent.headers["Content-Type"] == "application/fhir+json"
    assert json.loads(sent.content) == body


async def test_upstream_404_is_our_not_found_with_the_upstream_diagnostics(upstream):
    client, router = upstream
    router.get("/Patient/gone").respond(404, json=outcome("not-found", "Resource Patient/gone"))

    with pytest.raises(UpstreamNotFound) as caught:
        await client.read("Patient", "gone")

    error = caught.value
    assert isinstance(error, ResourceNotFound)
    assert error.status == HTTPStatus.NOT_FOUND
    assert error.upstream_status == 404
    assert "Resource Patient/gone" in error.diagnostics
    issues = error.all_issues()
    assert [i.code for i in issues] == ["not-found", "not-found"]
    assert issues[1].diagnostics == "Resource Patient/gone"


async def test_upstream_400_is_our_invalid_request(upstream):
    client, router = upstream
    router.get("/CodeSystem/$lookup").respond(400, json=outcome("required", "No code given"))

    with pytest.raises(UpstreamInvalid) as caught:
        await client.operation("CodeSystem/$lookup", {"system": "http://loinc.org"})

    assert isinstance(caught.value, InvalidRequest)
    assert caught.value.status == HTTPStatus.BAD_REQUEST
    assert "No code given" in caught.value.diagnostics


@pytest.mark.parametrize("status", [500, 502, 401, 403])
async def test_upstream_failure_or_refusal_is_502(upstream, status):
    client, router = upstream
    router.get("/Patient/p1").respond(status, text="<html>oops</html>")

    with pytest.raises(BadGateway) as caught:
        await client.read("Patient", "p1")

    assert caught.value.status == HTTPStatus.BAD_GATEWAY
    assert caught.value.issue_code == "exception"
    assert caught.value.upstream_status == status


async def test_upstream_429_is_503_with_retry_after(upstream):
    client, router = upstream
    router.get("/Patient/p1").respond(429, headers={"Retry-After": "30"})

    with pytest.raises(UpstreamBusy) as caught:
        await client.read("Patient", "p1")

    assert caught.value.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert caught.value.headers == {"Retry-After": "30"}


async def test_success_without_a_fhir_resource_is_502(upstream):
    client, router = upstream
    router.get("/Patient/p1").respond(200, text="<html>login page</html>")

    with pytest.raises(BadGateway, match="without a FHIR JSON resource"):
        await client.read("Patient", "p1")


async def test_timeout_is_504_and_not_retried(upstream):
    client, router = upstream
    route = router.get("/Patient/p1").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(GatewayTimeout) as caught:
        await client.read("Patient", "p1")

    assert caught.value.status == HTTPStatus.GATEWAY_TIMEOUT
    assert caught.value.issue_code == "timeout"
    assert "2.5 s" in caught.value.diagnostics
    assert route.call_count == 1


async def test_connection_error_is_retried_once(upstream):
    client, router = upstream
    route = router.get("/Patient/p1").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=PATIENT)]
    )

    assert await client.read("Patient", "p1") == PATIENT
    assert route.call_count == 2


async def test_connection_refused_twice_is_502(upstream):
    client, router = upstream
    route = router.get("/Patient/p1").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(BadGateway, match="could not be reached") as caught:
        await client.read("Patient", "p1")

    assert caught.value.status == HTTPStatus.BAD_GATEWAY
    assert route.call_count == 2


async def test_credentials_in_the_base_url_never_reach_messages():
    secret = "https://user:s3cret@tx.example.nhs.uk/fhir"
    with respx.mock(assert_all_called=False) as router:
        router.get(url__startswith="https://tx.example.nhs.uk/").respond(500)
        async with httpx.AsyncClient() as http:
            client = FhirClient(secret, client=http)
            with pytest.raises(BadGateway) as caught:
                await client.read("Patient", "p1")

    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in client.name
    assert "tx.example.nhs.uk/fhir" in str(caught.value)


async def test_an_injected_client_is_left_open_and_an_owned_one_closed():
    async with httpx.AsyncClient() as http:
        borrowed = FhirClient(BASE, client=http)
        await borrowed.aclose()
        assert not http.is_closed
    owned = FhirClient(BASE)
    await owned.aclose()
    assert owned._client.is_closed
