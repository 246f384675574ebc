"""What the centres did: treatment volumes and rates, repair rate, minimal access and MDT shares.

All of these count episodes treated in the period, by the treating centre, because they judge
the service that operated (the referral centre is the wrong denominator for a repair rate).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, Final

from app.pathway.metrics_core import (
    Key,
    MetricsQuery,
    in_period,
    keyer,
    live,
    result,
    share,
    year_span,
)
from app.pathway.model import Episode
from app.pathway.population import Population

SURGICAL: Final = frozenset({"surgery", "minimal-access-surgery"})
RATE_DIMENSIONS: Final = frozenset({"area", "modality"})
"""Breakdowns a population denominator exists for; a centre or age band has no catchment here."""


def _treated(episodes: Iterable[Episode], query: MetricsQuery) -> Iterable[tuple[Key, Episode]]:
    key = keyer(query, "treating")
    for episode in live(episodes):
        if in_period(episode.treated, query):
            k = key(episode)
            if k is not None:
                yield k, episode


def treatment_volumes(
    episodes: Iterable[Episode], query: MetricsQuery, population: Population | None
) -> dict[str, Any]:
    """Procedures by calendar year (and breakdown), with a rate per 100,000 where one exists.

    The denominator is the area's population when the breakdown is by area (districts mapped to
    their borough through the file's aliases), else the region's, or the sum of the filtered
    areas when the filter names the file's own area codes. Breakdowns with no denominator
    (centre, age band, sex) give ``rate_per_100k: null``, never a rate over the wrong people.
    """
    rated = population is not None and set(query.group_by) | set(query.filters) <= RATE_DIMENSIONS
    area_at = query.group_by.index("area") + 1 if "area" in query.group_by else None
    counts: dict[Key, int] = defaultdict(int)
    for k, episode in _treated(episodes, query):
        cell = (str(episode.treated)[:4], *k)
        if area_at is not None and population is not None:
            # Districts of one borough share its denominator, so they must share its cell.
            code = population.area_code(cell[area_at])
            cell = (*cell[:area_at], code or cell[area_at], *cell[area_at + 1 :])
        counts[cell] += 1
    partial = dict(year_span(query))
    region = _denominator(query, population) if rated else None
    cells: dict[Key, dict[str, Any]] = {}
    for k, n in counts.items():
        denominator = region
        if rated and area_at is not None and population is not None:
            denominator = population.of(k[area_at])
        cells[k] = {
            "count": n,
            "partial_year": partial.get(k[0], True),
            "population": denominator,
            "rate_per_100k": n * 100_000 / denominator if denominator else None,
        }
    days = (query.end - query.start).days + 1
    total_n = sum(counts.values())
    annual = total_n * 100_000 / region * 365.25 / days if region else None
    total = {"count": total_n, "population": region, "annual_rate_per_100k": annual}
    extra = {"denominators": population.describe()} if population is not None else {}
    return result("treatment-volumes", query, cells, total, dims=("year", *query.group_by), **extra)


def _denominator(query: MetricsQuery, population: Population | None) -> int | None:
    if population is None:
        return None
    areas = query.filters.get("area")
    if not areas:
        return population.region_total
    if any(a not in population.areas for a in areas):
        return None  # a district filter has no denominator of its own
    return sum(population.areas[a][1] for a in areas)


def _share_metric(
    metric: str,
    episodes: Iterable[Episode],
    query: MetricsQuery,
    counts: Callable[[Episode], tuple[bool, bool] | None],
) -> dict[str, Any]:
    """Tally (numerator, denominator) per cell; ``counts`` says if and how an episode counts."""
    cells: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for k, episode in _treated(episodes, query):
        verdict = counts(episode)
        if verdict is None:
            continue
        in_numerator, _ = verdict
        cell = cells[k]
        cell[1] += 1
        cell[0] += in_numerator
    numerator = sum(c[0] for c in cells.values())
    denominator = sum(c[1] for c in cells.values())
    return result(
        metric,
        query,
        {k: share(c[0], c[1]) for k, c in cells.items()},
        share(numerator, denominator),
    )


def repair_rate(episodes: Iterable[Episode], query: MetricsQuery) -> dict[str, Any]:
    """Repair over repair-plus-replacement for primary MR (NG208 prefers durable repair).

    Only surgical procedures count: a transcatheter edge-to-edge repair is always a repair, so
    counting it would hide the surgical repair rate that the national audits compare
    (51% nationally, 20-90% between hospitals; Anyanwu et al., Heart 2010).
    """

    def counts(e: Episode) -> tuple[bool, bool] | None:
        if e.aetiology != "primary" or e.modality not in SURGICAL or e.repair is None:
            return None
        return e.repair, True

    return _share_metric("repair-rate", episodes, query, counts)


def minimal_access_share(episodes: Iterable[Episode], query: MetricsQuery) -> dict[str, Any]:
    """Minimal access surgery over all surgery (open plus minimal access)."""

    def counts(e: Episode) -> tuple[bool, bool] | None:
        if e.modality not in SURGICAL:
            return None
        return e.modality == "minimal-access-surgery", True

    return _share_metric("minimal-access-share", episodes, query, counts)


def mdt_before_treatment(episodes: Iterable[Episode], query: MetricsQuery) -> dict[str, Any]:
    """Treated patients whose first heart-team discussion was on or before the procedure day."""

    def counts(e: Episode) -> tuple[bool, bool] | None:
        treated = e.treated
        return e.mdt is not None and treated is not None and e.mdt[:10] <= treated[:10], True

    return _share_metric("mdt-before-treatment", episodes, query, counts)
