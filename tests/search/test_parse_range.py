"""``parse_range`` (integer arithmetic, on every write) against the datetime reference it
falls back to: the same ranges and the same errors for valid, edge and invalid values."""

from __future__ import annotations

import random

import pytest
from httpx import AsyncClient

from app.search.dates import _parse_range_checked, parse_range
from tests.factories import entry_ids, patient

EDGES = (
    "0001",
    "9999",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00+14:00",
    "2024-02-29",
    "2023-02-29",
    "2100-02-29",
    "2000-02-29T12:00:00-00:00",
    "2025-13",
    "2025-00-10",
    "2025-04-31",
    "2025-06-15T24:00:00Z",
    "2025-06-15T23:60:00Z",
    "2025-06-15T23:59:60Z",
    "2025-06-15T10:30Z",
    "2025-06-15T10:30:00.1+01:00",
    "2025-06-15T10:30:00.123456789-05:30",
    "2025-06-15T10:30:00+23:59",
    "2025-06-15T10:30:00+24:00",
    "2025-03-30T01:30:00",
    "2025-3-30",
    "20250330",
    "",
    "yesterday",
)


def _outcome(parse: object, text: str) -> tuple[int, int] | str:
    try:
        return parse(text)  # type: ignore[operator, no-any-return]
    except ValueError as exc:
        return f"ValueError: {exc}"


def _generated(count: int) -> list[str]:
    rng = random.Random(20261203)
    found = []
    for _ in range(count):
        year = rng.choice([1, 1899, 1970, 2024, 2025, 2100, 9998, 9999])
        text = f"{year:04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
        if rng.random() < 0.7:
            text += f"T{rng.randint(0, 24):02d}:{rng.randint(0, 60):02d}"
            if rng.random() < 0.8:
                text += f":{rng.randint(0, 60):02d}"
                if rng.random() < 0.5:
                    text += "." + str(rng.randint(0, 10**9))[: rng.randint(1, 9)]
            text += rng.choice(["", "Z", "+01:00", "-05:30", "+14:00", "-23:59", "+24:00"])
        found.append(text)
    return found


@pytest.mark.parametrize("text", EDGES)
def test_edges_match_the_reference(text: str) -> None:
    assert _outcome(parse_range, text) == _outcome(_parse_range_checked, text)


def test_generated_values_match_the_reference() -> None:
    for text in _generated(20_000):
        assert _outcome(parse_range, text) == _outcome(_parse_range_checked, text), text


async def test_the_last_representable_day_is_stored_and_found(client: AsyncClient) -> None:
    """datetime cannot hold the end of 9999-12-31; the index bound is computed, not a 500."""
    created = await client.post("Patient", json=patient(birthDate="9999-12-31"))
    assert created.status_code == 201, created.text
    found = await client.get("Patient", params={"birthdate": "9999-12-31"})
    assert entry_ids(found.json()) == [created.json()["id"]]
