"""String starts-with search is an index range, and still exactly "starts with".

query_leaf turns ``name=smi`` into ``value >= 'smi' AND value < 'smj'`` (code point order:
SQLite's BINARY collation, PostgreSQL's "C" collation on search_string.value, migration
0002), which the (res_type, param, value) index can answer; ``LIKE 'smi%' ESCAPE`` could not.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from httpx import AsyncClient

from app.search.query_leaf import Binder, prefix_successor, row_condition
from app.storage import migrate
from tests.factories import entry_ids


async def put(client: AsyncClient, res_id: str, family: str) -> None:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": res_id,
        "name": [{"family": family}],
    }
    response = await client.put(f"Patient/{res_id}", json=resource)
    assert response.status_code in (200, 201), response.text


async def ids(client: AsyncClient, **params: str) -> list[str]:
    response = await client.get("Patient", params=params)
    assert response.status_code == 200, response.text
    return sorted(entry_ids(response.json()))


@pytest.fixture
async def families(client):
    for res_id, family in [
        ("smith", "Smith"),
        ("smi", "Smi"),
        ("sm", "Sm"),
        ("smj", "Smj"),
        ("smiz", "Smi\u00df"),  # ß casefolds to "ss" only through NFKD+casefold
        ("pct", "100% Smith"),
        ("under", "a_b"),
        ("axb", "axb"),
        ("slash", "back\\slash"),
        ("accent", "\u00c9tienne"),
        ("high", "zz\U0010ffff"),
    ]:
        await put(client, res_id, family)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("smi", ["smi", "smith", "smiz"]),
        ("SMI", ["smi", "smith", "smiz"]),
        ("sm", ["sm", "smi", "smith", "smiz", "smj"]),
        ("smit", ["smith"]),
        ("smith", ["smith"]),
        ("smithy", []),
        ("100%", ["pct"]),
        ("100", ["pct"]),
        ("a_", ["under"]),
        ("a", ["axb", "under"]),
        ("back\\", ["slash"]),
        ("etie", ["accent"]),
        ("\u00e9tie", ["accent"]),
        ("zz\U0010ffff", ["high"]),
        ("zz", ["high"]),
    ],
)
async def test_prefix_search_matches_exactly_the_values_starting_with_it(
    client, families, prefix, expected
):
    assert await ids(client, family=prefix) == expected


def test_prefix_becomes_a_range_not_a_like():
    b = Binder()

    sql = row_condition(b, "string", None, "smi")

    assert "LIKE" not in sql
    assert sql == "(t.value >= $1 AND t.value < $2)"
    assert b.args == ["smi", "smj"]


def test_contains_still_uses_like():
    b = Binder()

    assert "LIKE" in row_condition(b, "string", "contains", "mi")


def test_prefix_successor():
    assert prefix_successor("smi") == "smj"
    assert prefix_successor("a\u00ff") == "a\u0100"
    assert prefix_successor("") is None
    assert prefix_successor("z\U0010ffff") is None


def test_postgresql_string_values_compare_in_code_point_order(backend):
    if backend.name != "postgresql":
        pytest.skip("SQLite's default BINARY collation is already code point order")
    engine = sa.create_engine(
        migrate.sqlalchemy_url(backend.url),
        connect_args={"options": f"-csearch_path={backend.schema}"},
    )
    try:
        with engine.connect() as conn:
            collation = conn.execute(
                sa.text(
                    "SELECT collation_name FROM information_schema.columns "
                    "WHERE table_schema = :s AND table_name = 'search_string' "
                    "AND column_name = 'value'"
                ),
                {"s": backend.schema},
            ).scalar_one()
    finally:
        engine.dispose()
    assert collation == "C"
