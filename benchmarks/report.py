"""Render the results of benchmarks/run.py as docs/benchmarks.md."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sections

X = "\u00d7"
"""The multiplication sign, for ratios."""

# The peer's figures measured earlier on this kind of machine (from the issue), for context.
REFERENCE_PEER = {"ingest": 1300.0, "read": 1100.0, "search": 1000.0, "create": 570.0}
REFERENCE_PEER_READ_P99_MS = 50.0


@dataclass(frozen=True)
class Target:
    figure: str
    floor_ratio: float | None
    peer_ratio: float


TARGETS = {
    "ingest": Target("Ingest (resources/s)", 0.25, 3.0),
    "read": Target("Read by id (req/s)", 0.5, 5.0),
    "search": Target("Token search (req/s)", None, 3.0),
    "create": Target("Create (req/s)", None, 3.0),
}
READ_P99_TARGET_MS = 20.0
PEER_LABELS = {"default": "peer, defaults", "nolog": "peer, traffic log off"}


def _rate(load: dict[str, Any] | None, figure: str) -> float | None:
    if not load:
        return None
    value = load.get("resources_per_s" if figure == "ingest" else "rate")
    return float(value) if value is not None else None


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _ratio(ours: float | None, base: float | None) -> float | None:
    if ours is None or not base:
        return None
    return ours / base


def _fmt_ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}{X}"


def _met(ratio: float | None, target: float | None) -> str:
    if ratio is None or target is None:
        return "—"
    return "yes" if ratio >= target else "**no**"


def _peers(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The peer variants that produced figures."""
    return {k: v for k, v in (results.get("peers") or {}).items() if v and "error" not in v}


def _floor_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| Figure | Configuration | mitral-fhir | floor | ours ÷ floor | target | met |",
        "|---|---|--:|--:|--:|--:|:-:|",
    ]
    for figure, target in TARGETS.items():
        if target.floor_ratio is None:
            continue
        for cfg in results["configs"].values():
            ours = _rate(cfg["ours"].get(figure), figure)
            floor = _rate(cfg["floor"].get(figure), figure)
            ratio = _ratio(ours, floor)
            rows.append(
                f"| {target.figure} | {cfg['label']} | {_num(ours)} | {_num(floor)} "
                f"| {_fmt_ratio(ratio)} | ≥ {target.floor_ratio:g}{X} "
                f"| {_met(ratio, target.floor_ratio)} |"
            )
    return rows


def _peer_rows(results: dict[str, Any]) -> list[str]:
    peers = _peers(results)
    head = "| Figure | Configuration | mitral-fhir |"
    rule = "|---|---|--:|"
    for variant in peers:
        head += f" {PEER_LABELS[variant]} | ours ÷ peer | met (≥ target) |"
        rule += "--:|--:|:-:|"
    rows = [head + " target |", rule + "--:|"]
    for figure, target in TARGETS.items():
        for cfg in results["configs"].values():
            ours = _rate(cfg["ours"].get(figure), figure)
            row = f"| {target.figure} | {cfg['label']} | {_num(ours)} |"
            for peer in peers.values():
                value = _rate(peer.get(figure), figure)
                ratio = _ratio(ours, value)
                row += f" {_num(value)} | {_fmt_ratio(ratio)} | {_met(ratio, target.peer_ratio)} |"
            rows.append(row + f" ≥ {target.peer_ratio:g}{X} |")
    return rows


def _p99_rows(results: dict[str, Any]) -> list[str]:
    peers = _peers(results)
    head = "| Configuration | mitral-fhir p99 | floor p99 |"
    rule = "|---|--:|--:|"
    for variant in peers:
        head += f" {PEER_LABELS[variant]} p99 |"
        rule += "--:|"
    rows = [head + " target | met |", rule + "--:|:-:|"]
    for cfg in results["configs"].values():
        p99 = cfg["ours"]["read"]["p99_ms"]
        row = f"| {cfg['label']} | {_ms(p99)} | {_ms(cfg['floor']['read']['p99_ms'])} |"
        row += "".join(f" {_ms(p['read']['p99_ms'])} |" for p in peers.values())
        met = "yes" if p99 < READ_P99_TARGET_MS else "**no**"
        rows.append(row + f" < {READ_P99_TARGET_MS:g} ms | {met} |")
    return rows


def _summary(results: dict[str, Any]) -> list[str]:
    met: list[str] = []
    missed: list[str] = []
    peers = _peers(results)
    for figure, target in TARGETS.items():
        for cfg in results["configs"].values():
            ours = _rate(cfg["ours"].get(figure), figure)
            checks: list[tuple[str, float | None, float | None]] = []
            if target.floor_ratio is not None:
                floor = _rate(cfg["floor"].get(figure), figure)
                checks.append(("the floor", target.floor_ratio, floor))
            for variant, peer in peers.items():
                checks.append(
                    (
                        f"the {PEER_LABELS[variant]}",
                        target.peer_ratio,
                        _rate(peer.get(figure), figure),
                    )
                )
            for base_name, wanted, base in checks:
                ratio = _ratio(ours, base)
                if ratio is None or wanted is None:
                    continue
                line = (
                    f"{target.figure}, {cfg['label']}: {ratio:.2f}{X} {base_name} "
                    f"(target ≥ {wanted:g}{X})"
                )
                (met if ratio >= wanted else missed).append(line)
        if figure == "read":
            for cfg in results["configs"].values():
                p99 = cfg["ours"]["read"]["p99_ms"]
                line = (
                    f"Read p99, {cfg['label']}: {p99:.1f} ms (target < {READ_P99_TARGET_MS:g} ms)"
                )
                (met if p99 < READ_P99_TARGET_MS else missed).append(line)
    out = [f"**Met ({len(met)}):**", ""] + [f"- {m}" for m in met] + [""]
    out += [f"**Missed ({len(missed)}):**", ""] + [f"- {m}" for m in missed]
    return out


def _detail_rows(results: dict[str, Any]) -> list[str]:
    rows = [
        "| Server | Configuration | Load | req/s | resources/s | p50 ms | p90 ms | p99 ms "
        "| max ms | failed |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]

    def add(server: str, label: str, load: str, data: dict[str, Any] | None) -> None:
        if not data:
            return
        if "p50_ms" not in data:  # the ingest floor runs in-process, not over HTTP
            rows.append(
                f"| {server} | {label} | {load} | {data['bundles'] / data['seconds']:,.1f} "
                f"| {data['resources_per_s']:,.0f} | — | — | — | — | — |"
            )
            return
        per_s = data.get("resources_per_s")
        rows.append(
            f"| {server} | {label} | {load} | {data['rate']:,.1f} "
            f"| {'—' if per_s is None else f'{per_s:,.0f}'} | {data['p50_ms']:.2f} "
            f"| {data['p90_ms']:.2f} | {data['p99_ms']:.2f} | {data['max_ms']:.1f} "
            f"| {data['errors']} |"
        )

    for cfg in results["configs"].values():
        for load in ("read", "search", "create", "ingest"):
            add("mitral-fhir", cfg["label"], load, cfg["ours"].get(load))
        add("floor: bare ASGI + SELECT", cfg["label"], "read", cfg["floor"]["read"])
        add("floor: orjson + bare INSERT", cfg["label"], "ingest", cfg["floor"]["ingest"])
    for variant, peer in _peers(results).items():
        for load in ("read", "search", "create", "ingest"):
            add(f"sekmet-fhir ({PEER_LABELS[variant]})", "SQLite, 1 process", load, peer.get(load))
    return rows


def _reference_rows(results: dict[str, Any]) -> list[str]:
    peers = _peers(results)
    head = "| Figure | peer, earlier reference (issue) |"
    rule = "|---|--:|"
    for variant in peers:
        head += f" {PEER_LABELS[variant]}, this run |"
        rule += "--:|"
    rows = [head, rule]
    for figure, value in REFERENCE_PEER.items():
        row = f"| {TARGETS[figure].figure} | ≈{value:,.0f} |"
        row += "".join(f" {_num(_rate(p.get(figure), figure))} |" for p in peers.values())
        rows.append(row)
    row = f"| Read by id, p99 (ms) | ≈{REFERENCE_PEER_READ_P99_MS:.0f} |"
    row += "".join(f" {_ms(p['read']['p99_ms'])} |" for p in peers.values())
    rows.append(row)
    return rows


def _method(meta: dict[str, Any]) -> list[str]:
    d, w = meta["duration"], meta["warmup"]
    n, size = meta["ingest_clients"], meta["bundle_size"]
    starting = meta["lookup"] + meta["background"] * size
    return [
        f"- Every load runs **{w:g} s of warm-up, then {d:g} s measured**, with `wrk -t2` in "
        "its own process on the same 2-core machine (the load generator competes with the "
        "server for CPU, as it does for every server here). Ratios compare figures measured "
        "in this same run.",
        f"- **Same starting data everywhere:** each server (and each configuration, on a "
        f"fresh database) first gets {meta['lookup']:,} lookup Patients and "
        f"{meta['background']} ingest Bundles, {starting:,} resources in all; then the loads "
        "run in the order read, search, create, ingest, so reads and searches see the same "
        "tables on every server.",
        f"- **Ingest:** `POST [base]` transaction Bundles of {size} resources "
        f"({meta['bundles']} different Bundles, round robin): per patient a Patient (NHS "
        "number + MRN), two ServiceRequests (referral, echo request) and two Procedures "
        "(SNOMED CT + OPCS-4 codings, `basedOn` the requests), all linked by `urn:uuid` "
        f"fullUrls; {n} concurrent clients (`wrk -c{n}`). mitral-fhir validates every "
        "resource structurally, keeps every version and writes the search index rows of "
        "every supported SearchParameter (about 8 rows per resource in this mix; the floor "
        "indexes nothing). With only `identifier` indexed (commit af38bac, before the search "
        "engine) ingest was 0.31-0.35x the floor.",
        "- **Ingest floor:** the same Bundle bytes through `orjson.loads`, `orjson.dumps` of "
        "each resource and a bare `INSERT` of (type, id, bytes) into a table with a primary "
        "key, one database transaction per Bundle, on the same database, with the same "
        f"concurrency ({n}) split over as many processes as the server has workers (a sqlite3 "
        "connection per thread / an asyncpg connection per task). No HTTP.",
        f"- **Read by id:** `GET [base]/Patient/[id]`, ids drawn at random from the "
        f"{meta['lookup']:,} lookup Patients, {meta['connections']} connections.",
        "- **Read floor:** a plain ASGI callable (no framework) on the same uvicorn with the "
        "same workers and default loop/HTTP settings, running beside the idle server and "
        "selecting the same row's bytes from the same `resource` table (sqlite3 inline / an "
        "asyncpg pool of 10 whose release skips asyncpg's default session-reset query) and "
        "returning them with Content-Type and Content-Length.",
        "- **Token search:** `GET [base]/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number"
        f"|<n>`, each number matching exactly one Patient, {meta['connections']} connections.",
        f"- **Create:** `POST [base]/Patient` (200 different bodies, round robin), "
        f"{meta['connections']} connections.",
        "- **Peer:** sekmet-fhir run twice, each time fresh, driven with exactly the same "
        "requests: with **its defaults** (`sekmet serve --host 127.0.0.1 --port P` in a scratch "
        "directory: one uvicorn process, SQLite, `strict` structural validation with "
        "fhir.resources R4B models, and its traffic log on, which writes every request and "
        "response to SQLite), and with only **`log_inbound: false`** in its settings.yaml, "
        "the setting its configuration reference gives for heavy load runs. It supports "
        "transaction Bundles, so its ingest is measured the same way. The ServiceRequests "
        "carry referral/echo SNOMED codes, which its lab/imaging simulator ignores, so no "
        "simulator work is triggered.",
        "- Each figure comes from one run. Repeated runs of the same configuration on this "
        "machine differed by up to about 10% while the suite was developed, so treat a ratio "
        "within 10% of its target as borderline either way.",
        "- Every server is checked before the load (a read, a one-match search, a transaction "
        f"answering {size} `201 Created`, a create); failed requests are listed under Notes.",
    ]


def _peer_section(results: dict[str, Any]) -> list[str]:
    peers = results.get("peers") or {}
    lines = ["## Peer", ""]
    if not peers:
        return [*lines, "The peer was not run (`--skip-peer` or `--only`).", ""]
    for variant, data in peers.items():
        if data and "error" in data:
            lines += [f"The {PEER_LABELS[variant]} could not be measured:", "", "```"]
            lines += [data["error"], "```", ""]
    if _peers(results):
        lines += [
            "The peer's figures measured earlier on this kind of machine (quoted in the issue) "
            "next to this run's:",
            "",
            *_reference_rows(results),
            "",
            "With its defaults the peer writes every request and response to SQLite on the "
            "event loop (its traffic log); its throughput then depends on how much it has "
            "logged and can fall during a long run, which is why it is also measured with the "
            "log off.",
            "",
        ]
    return lines


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        "# Benchmarks",
        "",
        f"_Generated by `benchmarks/run.py` on {meta['date']} (run time {meta['elapsed_s']} s); "
        "regenerate rather than edit. See `benchmarks/README.md`._",
        "",
        "Command:",
        "",
        "```sh",
        meta["command"],
        "```",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in meta["machine"].items()],
        *[f"| {k} | {v} |" for k, v in meta["versions"].items()],
        f"| Peer | {meta['peer']} (installed from PyPI into a throw-away venv) |",
        f"| mitral-fhir | commit {meta['source']['commit']}, uncommitted changes in app/: "
        f"{meta['source']['uncommitted_app_changes']} (app/ digest "
        f"{meta['source']['app_digest']}) |",
        "",
        "## Method",
        "",
        *_method(meta),
        "",
        "## Results against the targets",
        "",
        "Against the floors (same database, same run):",
        "",
        *_floor_rows(results),
        "",
        "Against the peer (same requests, same run):",
        "",
        *_peer_rows(results),
        "",
        "Read latency at 32 connections (ms):",
        "",
        *_p99_rows(results),
        "",
        *_summary(results),
        "",
        "## All figures",
        "",
        *_detail_rows(results),
        "",
        *_peer_section(results),
    ]
    notes = results.get("notes") or []
    lines += ["## Notes", ""]
    lines += [f"- {n}" for n in notes] if notes else ["- No request failed during any load."]
    lines += [f"- {n}" for n in meta.get("remarks", [])]
    lines.append("")
    return "\n".join(lines)


def with_owned_sections(rendered: str, output: Path) -> str:
    """``rendered`` plus the sections of ``output`` other scripts own (search at scale,
    terminology), which a run of this suite does not redo."""
    previous = output.read_text() if output.exists() else ""
    return sections.carry_over(rendered, previous)
