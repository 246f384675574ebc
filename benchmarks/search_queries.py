"""The search benchmark's queries: the HTTP request and the hand-written floor SQL for each.

Every query is a list of items; an item is one HTTP path (with its parameter values) and the
floor statement's arguments for the same question. The floor is the SQL a person would write
for that question against the same tables (the page of ids from the index tables first,
then a join to ``resource`` for just those rows' content, in the same order, with the same
page size), executed
directly with asyncpg / sqlite3. SQL uses ``$n`` placeholders; ``to_sqlite`` turns them into
SQLite's numbered ``?n``.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from search_data import NHS_NUMBER, SNOMED, Group

PAGE = 50
"""The server's default page size (``_count`` absent); the floors return as many rows."""
SORT_PAGE = 20
SORT_PAGES = 3

US = 1_000_000


def to_sqlite(sql: str) -> str:
    """``?n`` placeholders, ``CROSS JOIN`` so that SQLite (no ANALYZE statistics) joins in
    the written order, from the selective index rows to the resources, and ``/*+*/col``
    (a comment to PostgreSQL) as SQLite's ``+col``, which keeps it from probing an index on
    that column (it would otherwise pick the index with the most equality columns);
    ``/*INDEXED BY ix*/`` likewise becomes SQLite's index pin."""
    sql = re.sub(r"\$(\d+)", r"?\1", sql).replace("\nJOIN ", "\nCROSS JOIN ")
    sql = re.sub(r"/\*INDEXED BY (\w+)\*/", r"INDEXED BY \1", sql)
    return sql.replace("/*+*/", "+")


def us(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * US


@dataclass
class Item:
    path: str
    args: tuple[Any, ...]
    sql: str | None = None
    """A per-item statement (paging); None: the query's own."""


@dataclass
class Query:
    key: str
    label: str
    example: str
    sql_pg: str
    sql_sqlite: str
    items: list[Item] = field(default_factory=list)
    target_ms: float | None = None
    """The issue's p95 target (token, reference and date queries)."""
    base: str | None = None
    """For _include: the query it is compared with (at most 2x)."""


def _q(s: str) -> str:
    return quote(s, safe="/:-.")


TOKEN_SQL = f"""
SELECT r.res_id, r.content FROM (
  SELECT c.res_id FROM search_token c
  WHERE c.res_type = 'ServiceRequest' AND c.param = 'code' AND c.code = $3 AND c.system = $2
    AND EXISTS (SELECT 1 FROM search_token s WHERE s.res_type = 'ServiceRequest'
      AND s.param = 'status' AND s.code = $1 AND s.res_id = c.res_id)
  ORDER BY c.res_id LIMIT {PAGE + 1}) ids
JOIN resource r ON r.res_type = 'ServiceRequest' AND r.res_id = ids.res_id
WHERE NOT r.deleted
ORDER BY r.res_id"""

REFERENCE_SQL = f"""
SELECT r.res_id, r.content FROM search_reference t
JOIN resource r ON r.res_type = t.res_type AND r.res_id = t.res_id
WHERE t.res_type = 'ServiceRequest' AND t.param = 'subject' AND t.target_id = $1
  AND t.target_type = 'Patient' AND NOT r.deleted
ORDER BY r.res_id LIMIT {PAGE + 1}"""

DATE_SQL = f"""
SELECT r.res_id, r.content FROM (
  SELECT d.res_id FROM search_date d
  WHERE d.res_type = 'Procedure' AND d.param = 'date' AND d.low >= $1 AND d.low < $2
  ORDER BY d.res_id LIMIT {PAGE + 1}) ids
JOIN resource r ON r.res_type = 'Procedure' AND r.res_id = ids.res_id
WHERE NOT r.deleted
ORDER BY r.res_id"""

STRING_SQL = f"""
SELECT r.res_id, r.content FROM (
  SELECT DISTINCT s.res_id FROM search_string s
  WHERE s.res_type = 'Patient' AND s.param = 'name' AND s.value >= $1 AND s.value < $2
  ORDER BY s.res_id LIMIT {PAGE + 1}) ids
JOIN resource r ON r.res_type = 'Patient' AND r.res_id = ids.res_id
WHERE NOT r.deleted
ORDER BY r.res_id"""

CHAIN_SQL = f"""
SELECT r.res_id, r.content FROM search_token i
JOIN search_reference t ON t.res_type = 'ServiceRequest' AND t.param = 'subject'
  AND t.target_id = i.res_id AND t.target_type = 'Patient'
JOIN resource r ON r.res_type = t.res_type AND r.res_id = t.res_id
WHERE i.res_type = 'Patient' AND i.param = 'identifier' AND i.system = $1 AND i.code = $2
  AND NOT r.deleted
ORDER BY r.res_id LIMIT {PAGE + 1}"""

INCLUDE_SQL = f"""
WITH m AS ({REFERENCE_SQL.strip()})
SELECT m.res_id, m.content FROM m
UNION ALL
SELECT p.res_id, p.content FROM resource p
WHERE p.res_type = 'Patient' AND NOT p.deleted AND p.res_id IN (
  SELECT h.target_id FROM search_reference h /*INDEXED BY ix_search_reference_resource*/
  WHERE h.res_type = 'ServiceRequest' AND h.res_id IN (SELECT m.res_id FROM m)
    AND h.param = 'subject' AND h.target_type = 'Patient')"""

REVINCLUDE_SQL = """
SELECT p.res_id, p.content FROM resource p
WHERE p.res_type = 'Patient' AND p.res_id = $1 AND NOT p.deleted
UNION ALL
SELECT r.res_id, r.content FROM search_reference h
JOIN resource r ON r.res_type = h.res_type AND r.res_id = h.res_id
WHERE h.res_type = 'Procedure' AND h.param = 'subject' AND h.target_type = 'Patient'
  AND h.target_id = $2 AND NOT r.deleted"""

SORT_FIRST_SQL = f"""
SELECT r.res_id, r.content, d.low FROM search_date d
JOIN resource r ON r.res_type = d.res_type AND r.res_id = d.res_id
WHERE d.res_type = 'Procedure' AND d.param = 'date' AND d.low >= $1 AND NOT r.deleted
ORDER BY d.low DESC, d.res_id LIMIT {SORT_PAGE + 1}"""

SORT_NEXT_SQL = f"""
SELECT r.res_id, r.content, d.low FROM search_date d
JOIN resource r ON r.res_type = d.res_type AND r.res_id = d.res_id
WHERE d.res_type = 'Procedure' AND d.param = 'date' AND d.low >= $1 AND d.low <= $3
  AND (d.low < $2 OR (d.low = $3 AND d.res_id > $4)) AND NOT r.deleted
ORDER BY d.low DESC, d.res_id LIMIT {SORT_PAGE + 1}"""


def _succ(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def build(
    groups: list[Group], patient_ids: list[str], *, n: int = 200, seed: int = 7
) -> dict[str, Query]:
    """The queries with ``n`` items each (paging items are added after the load)."""
    rng = random.Random(seed)
    picks = [rng.randrange(len(groups)) for _ in range(n)]
    queries: dict[str, Query] = {}

    def add(query: Query) -> None:
        queries[query.key] = query

    add(
        Query(
            "token",
            "token",
            "ServiceRequest?code=http://snomed.info/sct|<code>&status=<status>",
            TOKEN_SQL,
            to_sqlite(TOKEN_SQL),
            [
                Item(
                    f"/fhir/ServiceRequest?code={_q(SNOMED + '|' + groups[i].sr_code)}"
                    f"&status={groups[i].sr_status}",
                    (groups[i].sr_status, SNOMED, groups[i].sr_code),
                )
                for i in picks
            ],
            target_ms=50.0,
        )
    )
    add(
        Query(
            "reference",
            "reference",
            "ServiceRequest?subject=Patient/<id>",
            REFERENCE_SQL,
            to_sqlite(REFERENCE_SQL),
            [
                Item(f"/fhir/ServiceRequest?subject=Patient/{patient_ids[i]}", (patient_ids[i],))
                for i in picks
            ],
            target_ms=50.0,
        )
    )
    months = [dt.date(y, m, 1) for y in (2024, 2025, 2026) for m in range(1, 13)][:-2]
    date_items = []
    for _ in range(n):
        k = rng.randrange(len(months) - 1)
        lo, hi = months[k], months[k + 1]
        date_items.append(
            Item(
                f"/fhir/Procedure?date=ge{lo.isoformat()}&date=lt{hi.isoformat()}",
                (us(lo), us(hi)),
            )
        )
    add(
        Query(
            "date",
            "date range (one month)",
            "Procedure?date=ge2025-01-01&date=lt2025-02-01",
            DATE_SQL,
            to_sqlite(DATE_SQL),
            date_items,
            target_ms=50.0,
        )
    )
    prefixes = sorted({g.family[:3].lower() for g in groups})
    add(
        Query(
            "string",
            "string (name prefix)",
            "Patient?name=smi",
            STRING_SQL,
            to_sqlite(STRING_SQL),
            [
                Item(f"/fhir/Patient?name={p}", (p, _succ(p)))
                for p in (rng.choice(prefixes) for _ in range(n))
            ],
        )
    )
    add(
        Query(
            "chained",
            "chained",
            "ServiceRequest?subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|<n>",
            CHAIN_SQL,
            to_sqlite(CHAIN_SQL),
            [
                Item(
                    "/fhir/ServiceRequest?subject:Patient.identifier="
                    + _q(f"{NHS_NUMBER}|{groups[i].nhs}"),
                    (NHS_NUMBER, groups[i].nhs),
                )
                for i in picks
            ],
        )
    )
    add(
        Query(
            "include",
            "_include",
            "ServiceRequest?subject=Patient/<id>&_include=ServiceRequest:subject",
            INCLUDE_SQL,
            to_sqlite(INCLUDE_SQL),
            [
                Item(
                    f"/fhir/ServiceRequest?subject=Patient/{patient_ids[i]}"
                    "&_include=ServiceRequest:subject",
                    (patient_ids[i],),
                )
                for i in picks
            ],
            base="reference",
        )
    )
    add(
        Query(
            "revinclude",
            "_revinclude",
            "Patient?_id=<id>&_revinclude=Procedure:subject",
            REVINCLUDE_SQL,
            to_sqlite(REVINCLUDE_SQL),
            [
                Item(
                    f"/fhir/Patient?_id={patient_ids[i]}&_revinclude=Procedure:subject",
                    (patient_ids[i], patient_ids[i]),
                )
                for i in picks
            ],
        )
    )
    add(
        Query(
            "sort",
            f"_sort + paging ({SORT_PAGES} pages of {SORT_PAGE})",
            f"Procedure?date=ge2025-06&_sort=-date&_count={SORT_PAGE}, then its next links",
            SORT_FIRST_SQL,
            to_sqlite(SORT_FIRST_SQL),
        )
    )
    return queries


SORT_STARTS = [dt.date(y, m, 1) for y in (2024, 2025, 2026) for m in range(1, 13)][1:-4]


def sort_first_path(start: dt.date) -> str:
    return f"/fhir/Procedure?date=ge{start.strftime('%Y-%m')}&_sort=-date&_count={SORT_PAGE}"
