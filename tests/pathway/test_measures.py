"""Measure definitions and MeasureReports: valid R4, and carrying the computed numbers."""

from __future__ import annotations

from typing import Any

import pytest

from app.pathway.measures import MEASURE_BASE, VERSION, measure, measure_report, measures
from app.pathway.metrics import METRICS, MetricsQuery, compute, compute_all
from app.pathway.population import load_population
from app.validation.base_rules import base_issues
from app.validation.models import validate_with_r4b
from app.validation.structural import validate_structure
from tests.pathway.metrics_cohort import YEAR_2025, cohort

GENERATED = "2026-01-05T09:00:00Z"


def errors(resource: dict[str, Any]) -> list[str]:
    """R4 structure and base rules (invariants, bindings), cross-checked with the R4B models."""
    found = [*validate_structure(resource), *base_issues(resource), *validate_with_r4b(resource)]
    return [i.diagnostics for i in found if i.severity in ("error", "fatal")]


def _pop(group: dict[str, Any], code: str) -> int:
    found = [p["count"] for p in group["population"] if p["code"]["coding"][0]["code"] == code]
    assert len(found) == 1, code
    return int(found[0])


def test_every_metric_has_a_valid_measure() -> None:
    found = measures()
    assert [m["id"] for m in found] == list(METRICS)
    for resource in found:
        assert resource["url"] == MEASURE_BASE + resource["id"]
        assert errors(resource) == [], resource["id"]


def test_measure_scoring_fits_the_metric() -> None:
    assert measure("rtt-18-weeks")["scoring"]["coding"][0]["code"] == "proportion"
    waits = measure("wait-referral-treatment")
    assert waits["scoring"]["coding"][0]["code"] == "continuous-variable"
    assert [g["code"]["coding"][0]["code"] for g in waits["group"]] == ["median", "p90"]
    assert "126 days" in str(measure("rtt-18-weeks")["group"][0]["population"])


@pytest.mark.parametrize("group_by", [(), ("centre",), ("centre", "sex", "age_band")])
def test_every_report_is_valid_r4(group_by: tuple[str, ...]) -> None:
    query = MetricsQuery(*YEAR_2025, group_by=group_by)
    every = compute_all(cohort(), query, population=load_population())
    for metric, computed in every.items():
        report = measure_report(computed, generated=GENERATED, reporter="Organization/rj1")
        assert report["measure"] == f"{MEASURE_BASE}{metric}|{VERSION}"
        assert errors(report) == [], metric


def test_the_check_catches_a_broken_report() -> None:
    computed = compute("referrals", cohort(), MetricsQuery(*YEAR_2025))
    report = measure_report(computed, generated=GENERATED)
    del report["status"]
    report["group"][0]["population"][0]["count"] = "twelve"
    assert len(errors(report)) >= 1


def test_wait_report_carries_median_and_p90_in_days() -> None:
    query = MetricsQuery(*YEAR_2025, group_by=("centre",))
    computed = compute("wait-referral-treatment", cohort(), query)
    median, p90 = measure_report(computed, generated=GENERATED)["group"]
    unit = {"unit": "d", "system": "http://unitsofmeasure.org", "code": "d"}
    assert median["measureScore"] == {"value": 63, **unit}
    assert p90["measureScore"] == {"value": 126, **unit}
    assert _pop(median, "measure-population") == 10
    strata = {s["value"]["text"]: s for s in median["stratifier"][0]["stratum"]}
    assert strata["RJ122"]["measureScore"]["value"] == 80
    assert _pop(strata["RJ122"], "measure-population") == 4
    p90_strata = {s["value"]["text"]: s for s in p90["stratifier"][0]["stratum"]}
    assert p90_strata["RJ122"]["measureScore"]["value"] == 119


def test_proportion_report_with_two_breakdowns_uses_components() -> None:
    query = MetricsQuery(*YEAR_2025, group_by=("centre", "sex"))
    computed = compute("rtt-18-weeks", cohort(), query)
    (group,) = measure_report(computed, generated=GENERATED)["group"]
    assert (_pop(group, "numerator"), _pop(group, "denominator")) == (9, 10)
    assert group["measureScore"] == {"value": 0.9}
    stratifier = group["stratifier"][0]
    assert [c["text"] for c in stratifier["code"]] == ["centre", "sex"]
    strata = {tuple(c["value"]["text"] for c in s["component"]): s for s in stratifier["stratum"]}
    kings_women = strata[("RJZ01", "female")]  # E3: 154 days
    assert (_pop(kings_women, "numerator"), _pop(kings_women, "denominator")) == (0, 1)
    assert sum(_pop(s, "denominator") for s in strata.values()) == 10


def test_volume_report_states_rates_and_denominators() -> None:
    query = MetricsQuery(*YEAR_2025, group_by=("modality",))
    computed = compute("treatment-volumes", cohort(), query, population=load_population())
    (group,) = measure_report(computed, generated=GENERATED)["group"]
    assert (_pop(group, "numerator"), _pop(group, "denominator")) == (10, 8_799_800)
    strata = {
        tuple(c["value"]["text"] for c in s["component"]): s
        for s in group["stratifier"][0]["stratum"]
    }
    surgery = strata[("2025", "surgery")]
    assert _pop(surgery, "numerator") == 6
    assert surgery["measureScore"]["value"] == pytest.approx(6 * 100_000 / 8_799_800, abs=1e-6)


def test_capability_report_marks_what_is_not_offered() -> None:
    computed = compute("capability-matrix", cohort(), MetricsQuery(*YEAR_2025))
    (group,) = measure_report(computed, generated=GENERATED)["group"]
    assert _pop(group, "initial-population") == 10
    strata = group["stratifier"][0]["stratum"]
    texts = {tuple(c["value"]["text"] for c in s["component"]): s for s in strata}
    assert _pop(texts[("RJ701", "transcatheter-repair", "not-offered")], "initial-population") == 2
