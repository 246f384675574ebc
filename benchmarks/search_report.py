"""Render benchmarks/search_bench.py's figures as the "Search at scale" section of
docs/benchmarks.md, between markers, leaving the rest of the file (run.py's) alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sections

START, END = sections.markers("search-bench")
X = "\u00d7"
INDEX_TABLES = (
    "search_token",
    "search_string",
    "search_reference",
    "search_date",
    "search_number",
    "search_quantity",
    "search_uri",
)
FLOOR_RATIO = 3.0
INCLUDE_RATIO = 2.0


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _mib(n: float) -> str:
    return f"{n / 1024 / 1024:,.0f} MiB"


def _ratio(http: dict[str, Any], floor: dict[str, Any] | None) -> float | None:
    """Our p95 over a floor's p95 (None: no such floor in these figures)."""
    return http["p95_ms"] / floor["p95_ms"] if floor and floor["p95_ms"] else None


def _pair(floor: dict[str, Any] | None) -> str:
    return f"{_ms(floor['p50_ms'])} / {_ms(floor['p95_ms'])}" if floor else "—"


def _times(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.1f}{X}"


def _targets(backend: str, q: dict[str, Any], queries: dict[str, Any]) -> list[tuple[str, bool]]:
    """(description, met) for every target that applies to this query.

    The ratio target is judged against the HTTP floor (results from before it existed have
    none, and then no ratio target), not the SQL floor: no HTTP service can get under the
    fixed cost of a request through uvicorn, which alone is several times a point query's
    SQL."""
    out: list[tuple[str, bool]] = []
    http = q["http"]
    if q.get("target_ms") and backend == "postgresql":
        out.append((f"p95 ≤ {q['target_ms']:g} ms", http["p95_ms"] <= q["target_ms"]))
    ratio = _ratio(http, q.get("http_floor"))
    if ratio is not None:
        out.append((f"p95 ÷ HTTP floor ≤ {FLOOR_RATIO:g}{X}", ratio <= FLOOR_RATIO))
    base = queries.get(q.get("base") or "")
    if base:
        ratio = http["p95_ms"] / base["http"]["p95_ms"]
        out.append((f"p95 ≤ {INCLUDE_RATIO:g}{X} base", ratio <= INCLUDE_RATIO))
    return out


def _query_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| Backend | Query | HTTP p50 ms | HTTP p95 ms | req/s | SQL floor p50 / p95 ms "
        "| p95 ÷ SQL floor | HTTP floor p50 / p95 ms | HTTP floor req/s | p95 ÷ HTTP floor "
        "| targets | met |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|:-:|",
    ]
    for backend, data in results["backends"].items():
        queries = data.get("queries", {})
        for q in queries.values():
            http, floor, http_floor = q["http"], q["floor"], q.get("http_floor")
            rate = f"{http_floor['rate']:,.0f}" if http_floor else "—"
            targets = _targets(backend, q, queries)
            extra = ""
            base = queries.get(q.get("base") or "")
            if base:
                extra = f" (base {http['p95_ms'] / base['http']['p95_ms']:.2f}{X})"
            met = ", ".join("yes" if ok else "**no**" for _, ok in targets)
            rows.append(
                f"| {data['label']} | {q['label']} | {_ms(http['p50_ms'])} | {_ms(http['p95_ms'])} "
                f"| {http['rate']:,.0f} | {_pair(floor)} | {_times(_ratio(http, floor))} "
                f"| {_pair(http_floor)} | {rate} | {_times(_ratio(http, http_floor))} "
                f"| {'; '.join(t for t, _ in targets)}{extra} | {met or '—'} |"
            )
    return rows


def _http_floor_note(results: dict[str, Any]) -> list[str]:
    missing = any(
        "http_floor" not in q
        for data in results["backends"].values()
        for q in data.get("queries", {}).values()
    )
    if not missing:
        return []
    return [
        "_These figures were measured before the HTTP floor existed (— in its columns): the "
        "ratio target is not judged for them._",
        "",
    ]


def _summary(results: dict[str, Any]) -> list[str]:
    met, missed = [], []
    for backend, data in results["backends"].items():
        queries = data.get("queries", {})
        for q in queries.values():
            for text, ok in _targets(backend, q, queries):
                (met if ok else missed).append(f"{data['label']}, {q['label']}: {text}")
    met_line = f"**Met ({len(met)}):** " + ("; ".join(met) or "none") + "."
    missed_line = f"**Missed ({len(missed)}):** " + ("; ".join(missed) or "none") + "."
    return [met_line, "", missed_line]


def _index_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| Backend | Resources | Index rows | Index rows / resource | Index bytes (table + "
        "indexes) | Index bytes / resource | Resource + history bytes / resource |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    detail = [
        "| Backend | Table | Rows | Rows / resource | Table | Indexes |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for data in results["backends"].values():
        index = data.get("index")
        if not index:
            continue
        n = index["rows"]["resource"]
        rows_total = sum(index["rows"][t] for t in INDEX_TABLES)
        size = {t: v["table"] + v["indexes"] for t, v in index["bytes"].items()}
        bytes_total = sum(size[t] for t in INDEX_TABLES)
        own = size["resource"] + size["resource_version"]
        rows.append(
            f"| {data['label']} | {n:,} | {rows_total:,} | {rows_total / n:.1f} "
            f"| {_mib(bytes_total)} | {bytes_total / n:,.0f} | {own / n:,.0f} |"
        )
        for t in ("resource", "resource_version", *INDEX_TABLES):
            b = index["bytes"][t]
            detail.append(
                f"| {data['label']} | `{t}` | {index['rows'][t]:,} "
                f"| {index['rows'][t] / n:.2f} | {_mib(b['table'])} | {_mib(b['indexes'])} |"
            )
    return [*rows, "", "Per table:", "", *detail]


def _load_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| Backend | Resources | Seconds | Resources/s | Clients | Resources per Bundle |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for data in results["backends"].values():
        ld = data.get("load")
        if ld:
            rows.append(
                f"| {data['label']} | {ld['resources']:,} | {ld['seconds']:,.0f} "
                f"| {ld['resources_per_s']:,.0f} | {ld['clients']} | {ld['bundle_resources']} |"
            )
    return rows


def _checks(results: dict[str, Any]) -> list[str]:
    out = []
    for data in results["backends"].values():
        for key, c in data.get("checks", {}).items():
            for m in c["mismatches"]:
                out.append(f"- {data['label']} {key}: result differs from the SQL floor's: {m}")
    return out or [
        "- Before the loads, the first items of every query were run both ways: HTTP and "
        "the SQL floor returned the same resources (the sorted pages in the same order); "
        "before each query's HTTP floor load, its first item was asked of mitral-fhir and of "
        "the HTTP floor, and any difference is listed below."
    ]


def _sizes(results: dict[str, Any]) -> str:
    """How many resources each backend held, e.g. "**999,999 resources** on PostgreSQL"."""
    parts = [
        f"**{data['load']['resources']:,} resources** on {data['label']}"
        for data in results["backends"].values()
        if data.get("load")
    ]
    return ", ".join(parts) or f"**{results['meta']['resources']:,} resources**"


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    m = meta["machine"]
    lines = [
        START,
        "## Search at scale",
        "",
        f"_Generated by `benchmarks/search_bench.py` on {meta['date']} (run time "
        f"{meta['elapsed_s']:,} s); regenerate rather than edit._",
        "",
        "```sh",
        meta["command"],
        "```",
        "",
        f"Store: {_sizes(results)} (7 per patient: "
        "Patient, ServiceRequest, Encounter, Observation with 3 components, Condition, "
        "Procedure, CarePlan; + 7 Organizations). Machine: "
        f"{m['CPU']}, {m['Cores (logical)']} cores, {m['RAM']}, {m['OS']}; Python "
        f"{m['Python']}; PostgreSQL {meta.get('postgresql') or '—'}; SQLite {meta['sqlite']}; "
        f"mitral-fhir commit {meta['source']['commit']} (uncommitted changes in app/: "
        f"{meta['source']['uncommitted_app_changes']}, app/ digest "
        f"{meta['source']['app_digest']}).",
        "",
        "### Latency",
        "",
        f"HTTP: `wrk -t1 -c{meta['concurrency']}` (fixed {meta['concurrency']} connections, "
        f"{meta['warmup']:g} s warm-up then {meta['duration']:g} s measured per query; each "
        f"request picks one of {meta['items']} parameter values at random) against mitral-fhir "
        f"with {meta['workers']} workers. Two floors, same data, same run, right after the "
        "HTTP load:",
        "",
        "- **SQL floor**: the hand-written SQL for the same question (joins of the index "
        "tables and `resource`, returning the same rows' content, same page size and order; "
        "`benchmarks/search_queries.py`) run directly from the benchmark process, "
        f"{meta['concurrency']} at a time (an asyncpg connection per task / a sqlite3 "
        "connection per thread), timed around the statement alone: the database's share.",
        "- **HTTP floor**: the same wrk load (same connections, warm-up and duration, the same "
        "parameter values in the same order) against `benchmarks/floor_asgi.py`, a bare ASGI "
        "callable (no framework) on the same uvicorn with the same worker count, which runs "
        "that same SQL with the request's parameters (an asyncpg pool without reset on "
        "release / one sqlite3 connection per worker) and answers with the rows' stored bytes "
        "concatenated into a minimal searchset Bundle (no JSON parsing, no links, no total): "
        "the least any HTTP service must spend to answer the same question.",
        "",
        "Ratios compare p95s. The ratio target (≤ "
        f"{FLOOR_RATIO:g}{X}) is judged against the HTTP floor, i.e. what mitral-fhir adds "
        "over the bare minimum (parsing the search, planning the SQL, building the Bundle); the "
        "SQL-floor ratio is shown for reference (for a point query a request's fixed cost "
        "through uvicorn alone is several times the SQL's).",
        "",
        *_http_floor_note(results),
        *_query_rows(results),
        "",
        *_summary(results),
        "",
        "### Index size",
        "",
        *_index_rows(results),
        "",
        "### Loading",
        "",
        "Transaction Bundles (`POST [base]`, 50 patients = 350 resources each, linked by "
        "`urn:uuid`), from concurrent clients:",
        "",
        *_load_rows(results),
        "",
        "### Notes",
        "",
        *_checks(results),
        *[f"- {n}" for n in results.get("notes", [])],
        *[f"- {n}" for n in meta.get("remarks", [])],
        *[f"- {n}" for n in METHOD_NOTES],
        END,
    ]
    return "\n".join(lines) + "\n"


METHOD_NOTES = (
    "After each load the benchmark runs `VACUUM (ANALYZE)` on PostgreSQL (planner "
    "statistics, and the visibility map that index-only scans need; autovacuum does the same "
    "on its own in steady state) and `ANALYZE` on SQLite, then the checks, then the loads.",
    "PostgreSQL runs with this machine's defaults (`shared_buffers` 128 MB, `work_mem` 4 MB); "
    "the store is several GB, so most reads come from the OS page cache.",
    "mitral-fhir plans each PostgreSQL statement for its own values (`plan_cache_mode = "
    "force_custom_plan`); the floors are run with the default plan cache.",
    "Each figure comes from one run on a 2-core machine that also runs the load generator; "
    "sub-millisecond p95s move by 20-30% between runs.",
)


def write_section(output: Path, results: dict[str, Any]) -> None:
    sections.write(output, "search-bench", render(results))
