"""Pages cut from the index tables before any resource is read (app/search/sql.py).

The page's ids come from the first id set (a DISTINCT over index rows), so duplicates (one
resource matching through two codings), deleted resources and reverse chains to missing
targets must not shorten or pad a page.
"""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tests.factories import all_pages, entry_ids, put_resource

LOINC = "http://loinc.org"
LOCAL = "https://example.org/local-codes"


def _observation(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{n:02d}",
        "status": "final" if n % 3 else "amended",
        # the same code in two systems: two index rows match code=18010-0
        "code": {
            "coding": [
                {"system": LOINC, "code": "18010-0"},
                {"system": LOCAL, "code": "18010-0"},
            ]
        },
        "subject": {"reference": f"Patient/pat-{n % 4}"},
    }


async def _walk(client: AsyncClient, url: str) -> list[list[str]]:
    return [entry_ids(page) for page in await all_pages(client, url)]


async def test_duplicate_index_rows_and_deletes_do_not_shorten_pages(client):
    for n in range(14):
        await put_resource(client, _observation(n))
    for n in (1, 5):
        assert (await client.delete(f"Observation/obs-{n:02d}")).status_code in (200, 204)
    pages = await _walk(client, "Observation?code=18010-0&status=final&_count=3")
    expected = [f"obs-{n:02d}" for n in range(14) if n % 3 and n not in (1, 5)]
    assert [i for p in pages for i in p] == expected
    assert [len(p) for p in pages[:-1]] == [3] * (len(pages) - 1)


async def test_reverse_chain_to_a_missing_target_is_not_a_page_source(client):
    """_has yields the referenced ids, which need not exist: the resource table decides."""
    for n in range(8):
        await put_resource(client, _observation(n))
    for n in (0, 2):  # pat-1 and pat-3 are referenced but never stored
        await put_resource(client, {"resourceType": "Patient", "id": f"pat-{n}"})
    pages = await _walk(client, "Patient?_has:Observation:subject:code=18010-0&_count=1")
    assert pages == [["pat-0"], ["pat-2"]]
