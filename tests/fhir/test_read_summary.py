"""_summary and _elements on read and vread; the plain read stays the stored bytes."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from app.search.summary import SUBSETTED
from tests.factories import assert_outcome, patient

NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">A</div>'}


async def _create(client: AsyncClient, **extra: Any) -> tuple[str, bytes]:
    response = await client.post("Patient", json=patient(text=NARRATIVE, **extra))
    assert response.status_code == 201, response.text
    return response.json()["id"], response.content


async def test_plain_read_and_summary_false_return_the_stored_bytes(client):
    res_id, created = await _create(client)
    assert (await client.get(f"Patient/{res_id}")).content == created
    assert (await client.get(f"Patient/{res_id}", params={"_summary": "false"})).content == created
    other = await client.get(f"Patient/{res_id}", params={"_format": "json"})
    assert other.content == created


async def test_read_summary_text(client):
    res_id, _ = await _create(client)

    response = await client.get(f"Patient/{res_id}", params={"_summary": "text"})

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["resourceType", "id", "meta", "text"]
    assert body["meta"]["tag"] == [SUBSETTED]
    assert body["meta"]["versionId"] == "1"
    assert response.headers["etag"] == 'W/"1"'


async def test_read_summary_true_and_data(client):
    res_id, _ = await _create(client, contact=[{"name": {"family": "Okafor"}}])

    summary = (await client.get(f"Patient/{res_id}", params={"_summary": "true"})).json()
    data = (await client.get(f"Patient/{res_id}", params={"_summary": "data"})).json()

    assert "contact" not in summary and "text" not in summary and "name" in summary
    assert "contact" in data and "text" not in data
    assert SUBSETTED in data["meta"]["tag"]


async def test_read_elements(client):
    res_id, _ = await _create(client)

    body = (await client.get(f"Patient/{res_id}", params={"_elements": "gender"})).json()

    assert set(body) == {"resourceType", "id", "meta", "gender"}
    assert SUBSETTED in body["meta"]["tag"]


async def test_vread_summary(client):
    res_id, _ = await _create(client)

    body = (await client.get(f"Patient/{res_id}/_history/1", params={"_summary": "data"})).json()

    assert "text" not in body and "name" in body


async def test_read_summary_with_an_invalid_or_count_value_returns_400(client):
    res_id, _ = await _create(client)
    for value in ("yes", "count"):
        response = await client.get(f"Patient/{res_id}", params={"_summary": value})
        assert_outcome(response, 400, "invalid", "_summary", expression="_summary")


async def test_read_summary_with_if_none_match_still_returns_304(client):
    res_id, _ = await _create(client)
    response = await client.get(
        f"Patient/{res_id}", params={"_summary": "true"}, headers={"If-None-Match": 'W/"1"'}
    )
    assert response.status_code == 304
