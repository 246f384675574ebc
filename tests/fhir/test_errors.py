"""Every bad input is an OperationOutcome with the right status, code and location; never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.factories import assert_outcome, bundle_of, patient

MAX_BODY = 256 * 1024  # conftest: max_body_bytes


def _body(**changes: Any) -> str:
    resource = patient()
    resource.update(changes)
    return json.dumps(resource)


BAD_BODIES = [
    # (case, body, status, code, diagnostics fragment, expression)
    ("malformed-json", '{"resourceType": "Patient",', 400, "structure", "not valid JSON", None),
    ("trailing-garbage", '{"resourceType": "Patient"} x', 400, "structure", "not valid JSON", None),
    ("empty-body", "", 400, "structure", "body is empty", None),
    ("json-array", "[]", 400, "structure", "must be a JSON object", None),
    ("json-null", "null", 400, "structure", "must be a JSON object", None),
    (
        "wrong-resource-type",
        json.dumps({"resourceType": "Observation", "status": "final"}),
        400,
        "structure",
        "does not match the URL's type 'Patient'",
        "Observation.resourceType",
    ),
    (
        "missing-resource-type",
        json.dumps({"gender": "female"}),
        400,
        "structure",
        "no resourceType",
        None,
    ),
    (
        "unknown-resource-type",
        json.dumps({"resourceType": "Spaceship"}),
        400,
        "structure",
        "'Spaceship' is not a FHIR R4 resource type",
        None,
    ),
    ("unknown-element", _body(foo="bar"), 400, "structure", "foo", "Patient.foo"),
    ("wrong-type", _body(active="yes"), 400, "structure", "boolean", "Patient.active"),
    ("bad-cardinality", _body(gender=["female"]), 400, "structure", "at most 1", "Patient.gender"),
    (
        "repeating-element-as-object",
        _body(name={"family": "Okafor"}),
        400,
        "structure",
        "array",
        "Patient.name",
    ),
    (
        "nested-wrong-type",
        _body(name=[{"family": "Okafor", "given": "Adaeze"}]),
        400,
        "structure",
        "given",
        "Patient.name[0].given",
    ),
    (
        "invalid-date",
        _body(birthDate="2020-02-30"),
        400,
        "value",
        "2020-02-30",
        "Patient.birthDate",
    ),
    ("invalid-id", _body(id="not a valid id"), 400, "structure", "Invalid id", "Patient.id"),
    ("numeric-id", _body(id=42), 400, "structure", "Invalid id", "Patient.id"),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [pytest.param(case[1], case[2:], id=case[0]) for case in BAD_BODIES],
)
async def test_create_with_a_bad_body_returns_an_outcome(client, body, expected):
    response = await client.post(
        "Patient", content=body, headers={"Content-Type": "application/fhir+json"}
    )

    assert_outcome(response, *expected)
    assert (await client.get("Patient", params={"_summary": "count"})).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [pytest.param(case[1], case[2:], id=case[0]) for case in BAD_BODIES if case[0] != "invalid-id"],
)
async def test_update_with_a_bad_body_returns_an_outcome(client, body, expected):
    content = body
    if body.startswith("{") and body.endswith("}"):
        data = json.loads(body)
        data.setdefault("id", "p1")
        content = json.dumps(data)

    response = await client.put(
        "Patient/p1", content=content, headers={"Content-Type": "application/fhir+json"}
    )

    assert_outcome(response, *expected)
    assert (await client.get("Patient/p1")).status_code == 404


async def test_all_problems_in_a_body_are_reported(client):
    response = await client.post(
        "Patient", json=patient(foo=1, active="yes", birthDate="2020-02-30")
    )

    assert response.status_code == 400
    expressions = {e for i in response.json()["issue"] for e in i.get("expression", [])}
    assert {"Patient.foo", "Patient.active", "Patient.birthDate"} <= expressions


async def test_id_in_body_differing_from_url_returns_400(client):
    response = await client.put("Patient/p1", json=patient(id="p2"))

    assert_outcome(
        response, 400, "invalid", "('p2') differs from the id in the URL ('p1')", "Patient.id"
    )


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
async def test_unknown_resource_type_in_the_url_returns_404(client, method):
    body = json.dumps({"resourceType": "Spaceship"}) if method in ("POST", "PUT") else None

    response = await client.request(
        method, "Spaceship/1" if method != "POST" else "Spaceship", content=body
    )

    assert_outcome(response, 404, "not-supported", "Unknown resource type 'Spaceship'")


async def test_abstract_type_in_the_url_returns_404(client):
    response = await client.get("DomainResource")

    assert_outcome(response, 404, "not-supported", "DomainResource")


async def test_version_conflict_returns_412_with_the_current_etag(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    await client.put("Patient/p1", json=patient(id="p1", active=True))

    response = await client.put("Patient/p1", json=patient(id="p1"), headers={"If-Match": 'W/"1"'})

    assert_outcome(response, 412, "conflict", "Version conflict")
    assert response.headers["etag"] == 'W/"2"'


async def test_failed_precondition_on_a_missing_resource_returns_412(client):
    response = await client.delete("Patient/p1", headers={"If-Match": 'W/"1"'})

    assert_outcome(response, 412, "conflict", "does not exist")


async def test_body_over_the_size_limit_returns_413(client):
    body = json.dumps(
        patient(text={"status": "generated", "div": "<div>" + "x" * MAX_BODY + "</div>"})
    )

    response = await client.post(
        "Patient", content=body, headers={"Content-Type": "application/fhir+json"}
    )

    assert_outcome(response, 413, "too-costly", f"limit of {MAX_BODY} bytes")


async def test_streamed_body_over_the_size_limit_returns_413(client):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"resourceType": "Patient", "text": {"status": "generated", "div": "<div>'
        for _ in range(40):
            yield b"x" * 8192
        yield b'</div>"}}'

    response = await client.post(
        "Patient", content=chunks(), headers={"Content-Type": "application/fhir+json"}
    )

    assert "content-length" not in response.request.headers
    assert_outcome(response, 413, "too-costly", f"limit of {MAX_BODY} bytes")


async def test_bundle_over_the_size_limit_returns_413(client):
    entries = [{"request": {"method": "GET", "url": f"Patient/{'p' * 60}{n}"}} for n in range(4000)]

    response = await client.post("", json=bundle_of("batch", entries))

    assert_outcome(response, 413, "too-costly", "limit of")


async def test_wrong_content_type_returns_415(client):
    response = await client.post(
        "Patient", content=json.dumps(patient()), headers={"Content-Type": "text/csv"}
    )

    assert_outcome(response, 415, "not-supported", "text/csv")


@pytest.mark.parametrize(
    "url",
    [
        "Patient/p1/_history/1/extra",
        "Patient/p1/something/else",
        "http://testserver/nothing-here",
        "http://testserver/fhirish/Patient",
    ],
)
async def test_unknown_route_returns_404_outcome(client, url):
    response = await client.get(url)

    assert_outcome(response, 404, "not-found")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("DELETE", "metadata"),
        ("POST", "metadata"),
        ("PUT", "_history"),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "Patient/p1"),
        ("DELETE", "Patient/p1/_history"),
        ("PUT", "Patient/p1/_history/1"),
    ],
)
async def test_wrong_method_returns_405_outcome(client, method, url):
    response = await client.request(
        method, url, content=b"{}" if method in ("POST", "PUT", "PATCH") else None
    )

    assert_outcome(response, 405, "not-supported", f"{method} is not allowed")


def _entry(method: str, url: str, resource: Any = None, **request: Any) -> dict[str, Any]:
    entry = {"request": {"method": method, "url": url, **request}}
    if resource is not None:
        entry["resource"] = resource
    return entry


def _bundle(entries: Any, kind: str = "transaction") -> str:
    return json.dumps({"resourceType": "Bundle", "type": kind, "entry": entries})


PATCH = {"Content-Type": "application/json-patch+json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HUGE = "99999999999999999999"
BAD_REFERENCE = patient(managingOrganization={"reference": "Organization?"})
BAD_BINARY = {"resourceType": "Binary", "data": "not base64!"}

# Requests that must be refused politely: (method, url, headers, body).
ODD_REQUESTS = [
    ("GET", f"Patient/p1/_history/{HUGE}", {}, None),
    ("GET", "Patient/p1/_history/0", {}, None),
    ("GET", f"_history?_cursor={HUGE}", {}, None),
    ("GET", "_history?_cursor=abc", {}, None),
    ("GET", f"_history?_count={HUGE}", {}, None),
    ("GET", f"Patient?_count={HUGE}", {}, None),
    ("GET", "Patient?_count=-1", {}, None),
    ("GET", "Patient?_cursor=garbage", {}, None),
    ("GET", "Patient?_total=sometimes", {}, None),
    ("GET", "Patient?_lastUpdated=", {}, None),
    ("GET", "Patient?_lastUpdated=9999", {}, None),
    ("GET", "Patient?_lastUpdated=2026-01-01T10:00:00%2B99:00", {}, None),
    ("GET", "?_type=", {}, None),
    ("GET", "Patient/" + "a" * 65, {}, None),
    ("GET", "Patient/p1", {"If-None-Match": "garbage"}, None),
    ("PUT", "Patient/p1", {"If-Match": 'W/"abc"'}, json.dumps(patient(id="p1"))),
    ("PUT", "Patient/p1", {"If-Match": f'W/"{HUGE}"'}, json.dumps(patient(id="p1"))),
    ("POST", "Patient", {}, b"\xff\xfe{}"),
    ("POST", "Patient", {}, '{"resourceType": 5}'),
    ("POST", "Patient", {}, json.dumps(patient(contained=[{"resourceType": "Foo"}]))),
    ("POST", "Patient/_search", FORM, b"\xff=\xfe"),
    ("PATCH", "Patient/p1", PATCH, "[5]"),
    ("PATCH", "Patient/p1", PATCH, '[{"op": "replace", "path": "", "value": 5}]'),
    (
        "PATCH",
        "Patient/p1",
        PATCH,
        '[{"op": "replace", "path": "/resourceType", "value": "Group"}]',
    ),
    ("PATCH", "Patient", PATCH, "[]"),
    ("POST", "", {}, _bundle({})),
    ("POST", "", {}, _bundle([5])),
    ("POST", "", {}, _bundle([_entry("PUT", "Patient", resource=patient())])),
    ("POST", "", {}, _bundle([_entry("POST", "Patient", patient(), ifNoneExist=5)])),
    ("POST", "", {}, _bundle([_entry("PUT", "Patient/p1", patient(id="p1"), ifMatch=5)])),
    ("POST", "", {}, _bundle([{**_entry("POST", "Patient", patient()), "fullUrl": 5}])),
    ("POST", "", {}, _bundle([_entry("GET", f"Patient/p1/_history/{HUGE}")])),
    ("POST", "", {}, _bundle([_entry("GET", "Patient/p1/_history/x")])),
    ("POST", "", {}, _bundle([_entry("GET", "http://elsewhere.org/fhir/Patient/1")])),
    ("POST", "", {}, _bundle([_entry("POST", "Patient", BAD_REFERENCE)])),
    ("POST", "", {}, _bundle([_entry("PATCH", "Patient/p1", BAD_BINARY)])),
    ("POST", "", {}, _bundle([5, {"request": 5}, _entry("PUT", "Patient")], kind="batch")),
]


@pytest.mark.parametrize(("method", "url", "headers", "body"), ODD_REQUESTS)
async def test_odd_requests_never_cause_a_server_error(client, method, url, headers, body):
    await client.put("Patient/p1", json=patient(id="p1"))

    response = await client.request(method, url, headers=headers, content=body)

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"
    if response.status_code == 200 and url == "" and '"batch"' in str(body):
        statuses = [e["response"]["status"] for e in response.json()["entry"]]
        assert all(s.startswith("4") for s in statuses), statuses


async def test_vread_of_a_huge_version_number_returns_404(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    response = await client.get("Patient/p1/_history/99999999999999999999")

    assert_outcome(response, 404, "not-found", "has no version")


async def test_history_cursor_out_of_range_returns_400(client):
    response = await client.get("_history", params={"_cursor": "99999999999999999999"})

    assert_outcome(response, 400, "invalid", "cursor", "_cursor")


async def test_transaction_put_without_an_id_or_criteria_returns_400(client):
    entry = {"request": {"method": "PUT", "url": "Patient"}, "resource": patient()}

    response = await client.post("", json=bundle_of("transaction", [entry]))

    assert_outcome(
        response, 400, "invalid", "Type/id or Type?criteria", "Bundle.entry[0].request.url"
    )


async def test_transaction_entry_with_a_non_string_if_match_returns_400(client):
    entry = {
        "request": {"method": "PUT", "url": "Patient/p1", "ifMatch": 1},
        "resource": patient(id="p1"),
    }

    response = await client.post("", json=bundle_of("transaction", [entry]))

    assert_outcome(response, 400, "invalid", "ifMatch", "Bundle.entry[0].request.ifMatch")


async def test_transaction_read_of_an_old_version(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    await client.put("Patient/p1", json=patient(id="p1", active=True))
    entries = [
        {"request": {"method": "GET", "url": "Patient/p1/_history/1"}},
        {"request": {"method": "GET", "url": "Patient/p1"}},
    ]

    response = await client.post("", json=bundle_of("transaction", entries))

    assert response.status_code == 200, response.text
    old, current = response.json()["entry"]
    assert old["resource"]["meta"]["versionId"] == "1"
    assert old["response"]["etag"] == 'W/"1"'
    assert current["resource"]["meta"]["versionId"] == "2"


async def test_transaction_read_of_an_unknown_version_returns_404(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    entries = [{"request": {"method": "GET", "url": "Patient/p1/_history/5"}}]

    response = await client.post("", json=bundle_of("transaction", entries))

    assert_outcome(response, 404, "not-found", "version 5", "Bundle.entry[0]")


async def test_post_search_with_a_body_that_is_not_utf8_returns_400(client):
    response = await client.post(
        "Patient/_search",
        content=b"identifier=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert_outcome(response, 400, "invalid", "UTF-8")
