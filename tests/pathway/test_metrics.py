"""Pathway metrics against a hand-computed cohort (see metrics_cohort.py for the arithmetic)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.pathway.metrics import METRICS, MetricsQuery, compute, compute_all, period_to
from app.pathway.metrics_core import age_band, nearest_rank
from app.pathway.model import Episode
from app.pathway.population import DEFAULT_FILE, load_population, parse_population
from tests.pathway.metrics_cohort import YEAR_2025, cohort, episode, random_cohort

Q2025 = MetricsQuery(*YEAR_2025)
MV_SERVICE = Path(__file__).resolve().parents[2] / "profiles/examples/valid/MV-Service.json"


def q(*group_by: str, **filters: set[str]) -> MetricsQuery:
    return MetricsQuery(*YEAR_2025, group_by=group_by, filters=_frozen(filters))


def _frozen(filters: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    return {k: frozenset(v) for k, v in filters.items()}


def cells(computed: dict[str, Any], field: str) -> dict[tuple[str, ...], Any]:
    return {tuple(g["key"].values()): g[field] for g in computed["groups"]}


def test_nearest_rank_is_the_value_at_rank_ceil_p_n() -> None:
    assert nearest_rank([1, 2, 3, 4], 0.5) == 2  # lower median, as percentile_disc
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert nearest_rank([5], 0.9) == 5
    assert nearest_rank([], 0.5) is None


def test_age_band_is_the_age_on_the_referral_day() -> None:
    assert age_band("1945-01-14", "2025-01-13") == "75-84"  # 80th birthday is tomorrow
    assert age_band("1945-01-13", "2025-01-13") == "75-84"
    assert age_band("1940-01-13", "2025-01-13") == "85+"
    assert age_band("1955-02-03", "2025-02-03") == "65-74"
    assert age_band("1960-12-31", "2025-06-01") == "<65"
    assert age_band(None, "2025-06-01") == "unknown"


def test_referrals_by_receiving_centre_skip_other_periods_and_errors() -> None:
    result = compute("referrals", cohort(), q("centre"))
    assert result["total"] == {"count": 12}
    assert cells(result, "count") == {
        ("R1H",): 1,
        ("RJ122",): 3,
        ("RJ181",): 1,
        ("RJ701",): 3,
        ("RJZ01",): 3,
        ("RYJ03",): 1,
    }


def test_referrals_by_age_band_and_filtered_by_sex() -> None:
    by_age = compute("referrals", cohort(), q("age_band"))
    assert cells(by_age, "count") == {("65-74",): 3, ("75-84",): 3, ("85+",): 2, ("<65",): 4}
    women = compute("referrals", cohort(), q(sex={"female"}))
    assert women["total"]["count"] == 7
    assert women["groups"] == [{"key": {}, "count": 7}]


def test_referrals_by_modality_use_the_decision_before_treatment() -> None:
    result = compute("referrals", cohort(), q("modality"))
    found = cells(result, "count")
    assert found[("declined",)] == 1
    assert found[("unknown",)] == 2  # E9 and E10 have no decision yet
    assert found[("surgery",)] == 5  # E1 E3 E5 E7 E8 (E12 was referred in 2024)


def test_wait_referral_to_mdt() -> None:
    result = compute("wait-referral-mdt", cohort(), q("centre"))
    # 7 14 19 21 28 28 28 28 30 49
    assert result["total"] == {"count": 10, "median": 28, "p90": 30}
    assert cells(result, "median")[("RJ122",)] == 21  # 14 21 30
    assert cells(result, "p90")[("RJ122",)] == 30
    assert result["percentile_method"] == "nearest-rank"


def test_wait_mdt_to_treatment_excludes_missing_and_negative_waits() -> None:
    result = compute("wait-mdt-treatment", cohort(), Q2025)
    # 35 35 42 49 63 98 98 126; E8 has no MDT, E14's MDT came after treatment
    assert result["total"] == {"count": 8, "median": 49, "p90": 126}
    assert result["excluded"] == 2


def test_wait_referral_to_treatment_by_treating_centre() -> None:
    result = compute("wait-referral-treatment", cohort(), q("centre"))
    # 35 42 42 56 63 80 91 119 126 154
    assert result["total"] == {"count": 10, "median": 63, "p90": 126}
    rj122 = next(g for g in result["groups"] if g["key"] == {"centre": "RJ122"})
    assert rj122 == {"key": {"centre": "RJ122"}, "count": 4, "median": 80, "p90": 119}


def test_rtt_completed_pathways_count_exactly_18_weeks_as_within() -> None:
    result = compute("rtt-18-weeks", cohort(), q("centre"))
    assert result["total"] == {"numerator": 9, "denominator": 10, "share": 0.9}
    assert cells(result, "share")[("RJZ01",)] == 0.5  # E3 154 days, E8 42
    assert cells(result, "share")[("RJ181",)] == 1.0  # E5 exactly 126 days


def test_rtt_incomplete_pathways_at_period_end() -> None:
    result = compute("rtt-incomplete", cohort(), Q2025)
    # open: E9 (213 days) and E10 (91 days); E11 declined, so its clock stopped
    assert result["total"] == {"numerator": 1, "denominator": 2, "share": 0.5}
    mid = compute("rtt-incomplete", cohort(), MetricsQuery(date(2025, 1, 1), date(2025, 3, 31)))
    # on 31 March: E2 (56 d), E3 (77 d), E4 (28 d), E11 (30 d); E1 and E12 already treated
    assert mid["total"] == {"numerator": 4, "denominator": 4, "share": 1.0}


def test_treatment_volumes_by_modality_and_year() -> None:
    result = compute("treatment-volumes", cohort(), q("modality"))
    assert cells(result, "count") == {
        ("2025", "minimal-access-surgery"): 1,
        ("2025", "surgery"): 6,
        ("2025", "transcatheter-repair"): 2,
        ("2025", "transcatheter-replacement"): 1,
    }
    assert result["group_by"] == ["year", "modality"]
    assert result["total"]["count"] == 10
    assert all(g["partial_year"] is False for g in result["groups"])
    assert all(g["rate_per_100k"] is None for g in result["groups"])  # no population given


POPULATION = parse_population(
    {
        "source": "test figures",
        "region": {"code": "R", "name": "Region", "population": 1_000_000},
        "areas": {
            "E09000028": {"name": "Southwark", "population": 300_000},
            "E09000032": {"name": "Wandsworth", "population": 250_000},
        },
        "aliases": {"SE1": "E09000028", "SE5": "E09000028", "SE22": "E09000028"},
    }
)


def test_treatment_rate_per_100k_against_region_and_area() -> None:
    whole = compute("treatment-volumes", cohort(), Q2025, population=POPULATION)
    assert whole["groups"][0]["rate_per_100k"] == pytest.approx(1.0)  # 10 / 1,000,000
    assert whole["total"]["annual_rate_per_100k"] == pytest.approx(1.0 * 365.25 / 365)
    assert whole["denominators"]["source"] == "test figures"
    by_area = compute("treatment-volumes", cohort(), q("area"), population=POPULATION)
    rates = cells(by_area, "rate_per_100k")
    counts = cells(by_area, "count")
    # SE1 (E1 E7 E12), SE5 (E2 E3) and SE22 (E8) are all Southwark
    assert counts[("2025", "E09000028")] == 6
    assert rates[("2025", "E09000028")] == pytest.approx(2.0)
    assert rates[("2025", "SW17")] is None  # no alias: no denominator of its own
    assert sum(counts.values()) == 10


def test_treatment_rate_is_not_given_over_a_population_it_does_not_describe() -> None:
    result = compute("treatment-volumes", cohort(), q("centre"), population=POPULATION)
    assert {g["rate_per_100k"] for g in result["groups"]} == {None}
    filtered = compute("treatment-volumes", cohort(), q(area={"E09000028"}), population=POPULATION)
    assert filtered["total"]["population"] == 300_000
    assert filtered["total"]["count"] == 0  # episodes name districts, not the borough


def test_repair_rate_for_primary_mr_counts_surgery_only() -> None:
    result = compute("repair-rate", cohort(), q("centre"))
    # E1 E2 E5 E7 E12 repairs, E3 replacement; E6 (TMVR) and E8 (mixed) excluded
    assert result["total"] == {"numerator": 5, "denominator": 6, "share": pytest.approx(5 / 6)}
    assert cells(result, "share") == {("RJ122",): 1.0, ("RJ181",): 1.0, ("RJZ01",): 0.0}


def test_minimal_access_share_of_surgery() -> None:
    result = compute("minimal-access-share", cohort(), Q2025)
    assert result["total"] == {"numerator": 1, "denominator": 7, "share": pytest.approx(1 / 7)}


def test_mdt_before_treatment_share() -> None:
    result = compute("mdt-before-treatment", cohort(), q("centre"))
    assert result["total"] == {"numerator": 8, "denominator": 10, "share": 0.8}
    assert cells(result, "share")[("RJ701",)] == 0.5  # E14 discussed after treatment
    assert cells(result, "share")[("RJZ01",)] == 0.5  # E8 never discussed


def test_minimum_volumes_against_bridgewater_standards() -> None:
    rows = compute("minimum-volumes", cohort(), Q2025)["rows"]
    by = {(r["level"], r["id"], r["activity"]): r for r in rows}
    assert by[("centre", "RJ122", "surgical-repair")]["count"] == 4
    assert by[("centre", "RJ122", "surgical-repair")]["meets"] is False
    assert by[("operator", "Practitioner/s1", "surgical-repair")]["standard"] == 25
    teer = by[("centre", "RJ701", "transcatheter-repair")]
    assert (teer["count"], teer["meets"], teer["source"]) == (2, None, "no published standard")
    assert ("centre", "RJZ01", "surgical-repair") not in by  # replacements only


def test_minimum_volume_threshold_is_exclusive() -> None:
    def repairs(n: int, operator: str) -> list[Episode]:
        return [
            episode(f"{operator}{i}", referred="2025-01-01", referral_centre="RJ122",
                    treated="2025-06-01", treating_centre="RJ122", modality="surgery",
                    repair=True, operator=operator)
            for i in range(n)
        ]  # fmt: skip

    rows = compute("minimum-volumes", repairs(25, "a") + repairs(26, "b"), Q2025)["rows"]
    verdict = {r["id"]: r["meets"] for r in rows}
    assert verdict == {"RJ122": True, "a": False, "b": True}  # 51 > 50, 25 is not > 25


def test_capability_matrix_sets_offered_beside_done() -> None:
    st_thomas = json.loads(MV_SERVICE.read_text())
    kings = {
        "resourceType": "HealthcareService",
        "active": True,
        "providedBy": {"identifier": {"value": "RJZ01"}},
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "53059001"}]}],
        "characteristic": [_approach("open-surgical")],
    }
    barts = {
        "resourceType": "HealthcareService",
        "active": True,
        "providedBy": {"reference": "Organization/r1h"},
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "720583008"}]}],
        "characteristic": [_approach("transfemoral")],
    }
    result = compute(
        "capability-matrix",
        cohort(),
        Q2025,
        services=[st_thomas, kings, barts],
        centres={"Organization/mv-organization-rj1": "RJ122", "Organization/r1h": "R1H"},
    )
    rows = {r["centre"]: r for r in result["rows"]}
    rj122 = rows["RJ122"]["modalities"]
    assert rj122["surgery"] == {"offers": True, "count": 3}
    assert rj122["minimal-access-surgery"] == {"offers": True, "count": 1}
    assert rj122["transcatheter-repair"] == {"offers": True, "count": 0}
    assert rj122["transcatheter-replacement"] == {"offers": False, "count": 0}
    assert rows["R1H"]["modalities"]["transcatheter-replacement"] == {"offers": True, "count": 1}
    assert rows["RJZ01"]["unexpected"] == []
    assert rows["RJ701"]["unexpected"] == ["transcatheter-repair"]  # no MV-Service given


def _approach(code: str) -> dict[str, Any]:
    system = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/surgical-approach"
    return {"coding": [{"system": system, "code": code}]}


def test_population_file_states_its_source_and_adds_up() -> None:
    population = load_population(DEFAULT_FILE)
    assert "ONS" in population.source
    assert population.approximate is True
    assert len(population.areas) == 33  # London boroughs and the City
    assert sum(p for _, p in population.areas.values()) == population.region_total
    assert population.of("Southwark") == population.of("E09000028") == 307_600
    raw = json.loads(DEFAULT_FILE.read_text())
    assert "approximate" in raw["note"].lower()


def test_population_file_without_a_source_is_refused() -> None:
    with pytest.raises(ValueError, match="source"):
        parse_population({"region": {"population": 1}})
    with pytest.raises(ValueError, match="unknown areas"):
        parse_population(
            {"source": "x", "region": {"population": 1}, "aliases": {"SE1": "nowhere"}}
        )


def test_query_rejects_unknown_breakdowns_and_reversed_periods() -> None:
    with pytest.raises(ValueError, match="Unknown breakdown"):
        MetricsQuery(date(2025, 1, 1), date(2025, 2, 1), group_by=("postcode",))
    with pytest.raises(ValueError, match="ends before"):
        MetricsQuery(date(2025, 2, 1), date(2025, 1, 1))
    with pytest.raises(ValueError, match="Unknown metric"):
        compute("nope", [], Q2025)
    assert period_to(date(2026, 3, 15), 12) == MetricsQuery(date(2025, 3, 1), date(2026, 3, 15))


# --- invariants on a random cohort -------------------------------------------------------

RANDOM = random_cohort(5000)
WIDE = MetricsQuery(date(2023, 1, 1), date(2025, 12, 31))


@pytest.mark.parametrize("dimension", ["centre", "modality", "age_band", "sex", "area"])
def test_counts_add_up_across_groups(dimension: str) -> None:
    query = MetricsQuery(WIDE.start, WIDE.end, group_by=(dimension,))
    for metric in ("referrals", "wait-referral-mdt", "wait-referral-treatment"):
        split = compute(metric, RANDOM, query)
        assert sum(g["count"] for g in split["groups"]) == split["total"]["count"] > 0
        assert split["total"] == compute(metric, RANDOM, WIDE)["total"]
    for metric in ("rtt-18-weeks", "rtt-incomplete", "repair-rate", "minimal-access-share"):
        split = compute(metric, RANDOM, query)
        for part in ("numerator", "denominator"):
            assert sum(g[part] for g in split["groups"]) == split["total"][part]


def test_random_cohort_shares_and_centiles_are_sane() -> None:
    query = MetricsQuery(WIDE.start, WIDE.end, group_by=("centre", "age_band"))
    every = compute_all(RANDOM, query, population=load_population())
    assert set(every) == set(METRICS)
    for metric, result in every.items():
        for row in (*result.get("groups", ()), result.get("total", {})):
            if "share" in row and row["share"] is not None:
                assert 0.0 <= row["share"] <= 1.0, metric
                assert row["numerator"] <= row["denominator"]
            if row.get("median") is not None:
                assert 0 <= row["median"] <= row["p90"], metric
    live = [e for e in RANDOM if e.status != "entered-in-error"]
    treated = [e for e in live if e.treated and e.treated <= "2025-12-31"]
    volumes = every["treatment-volumes"]
    assert volumes["total"]["count"] == len(treated)
    centres = [r for r in every["minimum-volumes"]["rows"] if r["level"] == "centre"]
    operators = [r for r in every["minimum-volumes"]["rows"] if r["level"] == "operator"]
    assert sum(r["count"] for r in centres) == sum(r["count"] for r in operators)
    matrix = every["capability-matrix"]["rows"]
    assert sum(c["count"] for r in matrix for c in r["modalities"].values()) == len(treated)
