#!/usr/bin/env python3
"""Terminology in-process: $validate-code, $translate and $expand through LocalTerminology.

    python3 benchmarks/terminology_bench.py               # about 40 s, writes docs/benchmarks.md
    python3 benchmarks/terminology_bench.py --seconds 0.05 --repeats 1 --no-write   # smoke run

Each case runs a time-based loop (``--seconds`` per repeat, ``--repeats`` times, the median
taken) over requests built up front, against the real content under ``terminology/`` (and, for
$expand, a generated 1,000-concept CodeSystem and ValueSet loaded the same way). A plain
``dict`` baseline answering the same questions runs in the same process and run, so the ratio
says what the terminology layer costs over the least any lookup must spend. Writes the
"Terminology" section of docs/benchmarks.md between markers, leaving the rest of the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap import ensure_project_venv

if __name__ == "__main__":
    ensure_project_venv(__file__)

import datetime as dt
import json
import os
import tempfile
import time
from typing import Any

import harness
import loops
import sections
from loops import Settings, async_rate, commit, latency, rate

from app.terminology.local import LocalTerminology
from app.terminology.service import ExpandRequest, TranslateRequest, ValidateCodeRequest

START, END = sections.markers("terminology-bench")
REGION = "https://fhir.southlondon-mitral.nhs.uk"
SCT = "http://snomed.info/sct"
VALUE_SET = f"{REGION}/ValueSet/valve-procedures"
CONCEPT_MAP = f"{REGION}/ConceptMap/local-st-thomas"
LOCAL_SYSTEM = f"{REGION}/CodeSystem/local-st-thomas"
BENCH_SYSTEM = f"{REGION}/CodeSystem/bench-1000"
BENCH_VALUE_SET = f"{REGION}/ValueSet/bench-1000"
RATE_TARGET = 50_000.0
EXPAND_TARGET_MS = 20.0
WORDS = ("mitral", "tricuspid", "aortic", "pulmonary")


# --- timing -------------------------------------------------------------------------------


# --- workloads ----------------------------------------------------------------------------


def _validate_requests(local: LocalTerminology) -> tuple[list[ValidateCodeRequest], int]:
    """Every code of the ValueSet (hits) and as many real codes outside it (misses)."""
    members = sorted(local.value_set_codes(VALUE_SET))
    outside = sorted(local.value_set_codes(f"{REGION}/ValueSet/mr-conditions") - set(members))
    outside += sorted(local.value_set_codes(f"{REGION}/ValueSet/nyha-class") - set(members))
    pairs = members + outside[: len(members)]
    requests = [ValidateCodeRequest(url=VALUE_SET, system=s, code=c) for s, c in pairs]
    return requests, len(members)


def _translate_requests(local: LocalTerminology) -> list[TranslateRequest]:
    """Each St Thomas' local code, to each target system and to any; some explicitly unmatched."""
    cm = next(r for r in local.resources() if r.get("url") == CONCEPT_MAP)
    codes = sorted({e["code"] for g in cm["group"] for e in g["element"]})
    targets = sorted({g["target"] for g in cm["group"]})
    return [
        TranslateRequest(code=code, system=LOCAL_SYSTEM, url=CONCEPT_MAP, target_system=target)
        for code in codes
        for target in (None, *targets)
    ]


def _generated_content(directory: Path) -> None:
    """A 1,000-concept CodeSystem (20 groups of 49 under an is-a hierarchy) and a ValueSet of
    all of it, written as content files the way terminology/ holds them."""
    concepts = []
    for group in range(20):
        children = [
            {
                "code": f"B{group:02d}-{i:03d}",
                "display": f"Bench {WORDS[i % 4]} finding {group * 49 + i:04d}",
            }
            for i in range(49)
        ]
        concepts.append(
            {"code": f"B{group:02d}", "display": f"Bench group {group:02d}", "concept": children}
        )
    code_system = {
        "resourceType": "CodeSystem",
        "url": BENCH_SYSTEM,
        "version": "1",
        "name": "Bench1000",
        "status": "draft",
        "content": "complete",
        "hierarchyMeaning": "is-a",
        "concept": concepts,
    }
    value_set = {
        "resourceType": "ValueSet",
        "url": BENCH_VALUE_SET,
        "version": "1",
        "status": "draft",
        "compose": {"include": [{"system": BENCH_SYSTEM}]},
    }
    for sub, name, resource in (
        ("codesystems", "bench-1000.json", code_system),
        ("valuesets", "bench-1000.json", value_set),
    ):
        (directory / sub).mkdir(parents=True, exist_ok=True)
        (directory / sub / name).write_text(json.dumps(resource))


# --- cases --------------------------------------------------------------------------------


def _validate_cases(local: LocalTerminology, settings: Settings) -> dict[str, Any]:
    requests, hits = _validate_requests(local)
    results = [local.validate_code_in_value_set_sync(r).result for r in requests]
    assert sum(results) == hits, "the hits must validate and the misses must not"
    table = {(s, c) for s, c in local.value_set_codes(VALUE_SET)}
    keys = [(r.system or "", r.code or "") for r in requests]
    check = local.validate_code_in_value_set_sync
    acheck = local.validate_code_in_value_set

    def ours() -> int:
        for request in requests:
            check(request)
        return len(requests)

    async def ours_async() -> int:
        for request in requests:
            await acheck(request)
        return len(requests)

    def baseline() -> int:
        for key in keys:
            _ = (key in table, key[1])
        return len(keys)

    return {
        "requests": len(requests),
        "hits": hits,
        "sync": rate(ours, settings),
        "async": async_rate(ours_async, settings),
        "baseline": rate(baseline, settings),
    }


def _translate_cases(local: LocalTerminology, settings: Settings) -> dict[str, Any]:
    requests = _translate_requests(local)
    mapped = sum(local.translate_sync(r).result for r in requests)
    assert 0 < mapped < len(requests), "the workload must mix mapped and unmapped codes"
    table: dict[tuple[str, str, str | None], tuple[str, ...]] = {}
    for request in requests:
        found = local.translate_sync(request)
        key = (request.system or "", request.code or "", request.target_system)
        table[key] = tuple(m.concept.code for m in found.matches if m.concept)
    keys = list(table)
    translate = local.translate_sync
    atranslate = local.translate

    def ours() -> int:
        for request in requests:
            translate(request)
        return len(requests)

    async def ours_async() -> int:
        for request in requests:
            await atranslate(request)
        return len(requests)

    def baseline() -> int:
        for key in keys:
            found = table.get(key)
            _ = (found is not None and bool(found), found)
        return len(keys)

    return {
        "requests": len(requests),
        "mapped": mapped,
        "sync": rate(ours, settings),
        "async": async_rate(ours_async, settings),
        "baseline": rate(baseline, settings),
    }


def _expand_cases(settings: Settings) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="terminology-bench-") as tmp:
        directory = Path(tmp) / "terminology"
        _generated_content(directory)
        local = LocalTerminology.from_directory(directory)
    everything = local.expand_sync(ExpandRequest(url=BENCH_VALUE_SET))
    contains: list[dict[str, Any]] = everything["expansion"]["contains"]
    assert everything["expansion"]["total"] == len(contains) == 1000, everything["expansion"]
    cases: dict[str, Any] = {}
    for name, flt, count in (
        ("page of 100", None, 100),
        ("filter 'tricuspid', page of 100", "tricuspid", 100),
        ("all 1,000", None, None),
    ):
        request = ExpandRequest(url=BENCH_VALUE_SET, filter=flt, count=count)
        total = local.expand_sync(request)["expansion"]["total"]

        def baseline(flt: str | None = flt, count: int | None = count) -> list[dict[str, Any]]:
            found = contains
            if flt:
                found = [c for c in found if any(w.startswith(flt) for w in _words(c))]
            return [dict(c) for c in found[:count]]

        assert len(baseline(None, None)) == 1000

        def ours(request: ExpandRequest = request) -> dict[str, Any]:
            return local.expand_sync(request)

        cases[name] = {
            "total": total,
            "ours": latency(ours, settings),
            "baseline": latency(baseline, settings),
        }
    return cases


def _words(concept: dict[str, Any]) -> list[str]:
    return str(concept.get("display", "")).lower().split()


# --- report -------------------------------------------------------------------------------


def _n(value: float) -> str:
    return f"{value:,.0f}"


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    m = meta["machine"]
    v, t = results["validate"], results["translate"]
    rows = [
        "| Case | Figure | Target | Met | Plain `dict`, same run | Ratio to the `dict` |",
        "|---|---|---|---|---|---|",
    ]
    for label, data, unit in (
        ("`ValueSet/$validate-code`", v, "checks/s"),
        ("`ConceptMap/$translate`", t, "translations/s"),
    ):
        for mode in ("sync", "async"):
            rate = data[mode]
            rows.append(
                f"| {label}, {mode} | {_n(rate)} {unit} | ≥ {_n(RATE_TARGET)}/s | "
                f"{'yes' if rate >= RATE_TARGET else 'no'} | {_n(data['baseline'])}/s | "
                f"{rate / data['baseline']:.3f} ({data['baseline'] / rate:.0f}x the time) |"
            )
    for name, case in results["expand"].items():
        ours, base = case["ours"], case["baseline"]
        rows.append(
            f"| `ValueSet/$expand` of 1,000 codes, {name} (total {case['total']}) | "
            f"p50 {ours['p50_ms']:.3f} ms, p95 {ours['p95_ms']:.3f} ms | "
            f"< {EXPAND_TARGET_MS:g} ms | {'yes' if ours['p95_ms'] < EXPAND_TARGET_MS else 'no'} "
            f"| p50 {base['p50_ms']:.3f} ms | {ours['p50_ms'] / base['p50_ms']:.1f}x the time |"
        )
    lines = [
        START,
        "## Terminology",
        "",
        f"_Generated by `benchmarks/terminology_bench.py` on {meta['date']} (run time "
        f"{meta['elapsed_s']:,} s); regenerate rather than edit._",
        "",
        "```sh",
        meta["command"],
        "```",
        "",
        f"In-process, one thread, through `LocalTerminology` over `terminology/`. Machine: "
        f"{m['CPU']}, {m['Cores (logical)']} cores, {m['RAM']}, {m['OS']}; Python "
        f"{m['Python']}; mitral-fhir commit {meta['commit']}. Each rate is the median of "
        f"{meta['repeats']} loops of {meta['seconds']:g} s; each latency pools every call of "
        f"{meta['repeats']} such loops.",
        "",
        *rows,
        "",
        f"- `$validate-code`: {v['requests']} requests (code + system) against `{VALUE_SET}`, "
        f"{v['hits']} of them members (every code of the set) and the rest real codes from "
        "other sets, cycled; the expansion is cached at load. Sync is the "
        "`validate_code_in_value_set_sync` twin that validation calls; async is the Protocol "
        "method awaited in a loop. The baseline answers `((system, code) in set, code)` for "
        "the same pairs.",
        f"- `$translate`: {t['requests']} requests, each St Thomas' local code of `{CONCEPT_MAP}` "
        f"to SNOMED CT, OPCS-4, ICD-10 and any target ({t['mapped']} with a match; the rest "
        "explicitly unmatched or unmapped to that target, `result=false`). The baseline is a "
        "`dict.get` of a precomputed (system, code, target) → target codes table.",
        "- `$expand`: a generated CodeSystem of 1,000 concepts (20 parents of 49 children, "
        "is-a) and a ValueSet including all of it, loaded with `LocalTerminology.from_directory` "
        "from a temporary directory; each call renders the FHIR ValueSet with its expansion. "
        "The baseline copies the same page of precomputed `contains` entries (after the same "
        "word-prefix filter). Target judged on p95.",
        "- Requests are built before timing; a caller building one per check adds about a "
        "microsecond.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    args = loops.arguments(
        __doc__.split("\n\n")[0] if __doc__ else None,
        seconds=0.6,
        repeats=5,
        output=harness.ROOT / "docs" / "benchmarks.md",
    )
    settings: Settings = args.settings
    started = time.monotonic()
    local = LocalTerminology.from_directory(harness.ROOT / "terminology")
    results: dict[str, Any] = {
        "validate": _validate_cases(local, settings),
        "translate": _translate_cases(local, settings),
        "expand": _expand_cases(settings),
    }
    machine = harness.machine_info()
    machine.pop("wrk", None)
    results["meta"] = {
        "command": os.environ.get("BENCH_COMMAND")
        or " ".join(["python3", "benchmarks/terminology_bench.py", *sys.argv[1:]]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_s": round(time.monotonic() - started),
        "machine": machine,
        "commit": commit(harness.ROOT),
        "seconds": settings.seconds,
        "repeats": settings.repeats,
    }
    section = render(results)
    print(section)
    if not args.no_write:
        sections.write(args.output, "terminology-bench", section)
        print(f"wrote the Terminology section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
