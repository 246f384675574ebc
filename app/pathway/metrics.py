"""The pathway metrics, one entry point: ``compute(metric, episodes, query, ...)``.

Each metric is a pure function of Episode facts so the JSON API, the MeasureReport and the
tests share one definition; the SQL the integrator runs for speed must agree with these.
The metric modules are split by family to keep each readable:

* ``metrics_waits``: referrals, waits (median and 90th centile, nearest-rank), 18-week shares;
* ``metrics_activity``: treatment volumes and rates, repair rate, minimal access, MDT shares;
* ``metrics_centres``: minimum volumes against standards, the capability matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Final

from app.pathway import metrics_activity, metrics_centres, metrics_waits
from app.pathway.metrics_core import AGE_BANDS, DIMENSIONS, RTT_DAYS, MetricsQuery
from app.pathway.model import Episode
from app.pathway.population import Population

__all__ = [
    "AGE_BANDS",
    "DIMENSIONS",
    "METRICS",
    "RTT_DAYS",
    "MetricsQuery",
    "compute",
    "compute_all",
    "period_to",
]

METRICS: Final = (
    "referrals",
    "wait-referral-mdt",
    "wait-mdt-treatment",
    "wait-referral-treatment",
    "rtt-18-weeks",
    "rtt-incomplete",
    "treatment-volumes",
    "repair-rate",
    "minimal-access-share",
    "mdt-before-treatment",
    "minimum-volumes",
    "capability-matrix",
)
"""Every metric id; each is also the id of its FHIR Measure (app.pathway.measures)."""


def compute(
    metric: str,
    episodes: Iterable[Episode],
    query: MetricsQuery,
    *,
    population: Population | None = None,
    services: Iterable[Mapping[str, Any]] = (),
    centres: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One metric over the episodes.

    ``population`` is only read by treatment-volumes, ``services`` (MV-Service
    HealthcareService dicts) and ``centres`` (Organization reference -> ODS code) only by the
    capability matrix.
    """
    if metric == "referrals":
        return metrics_waits.referrals(episodes, query)
    if metric in metrics_waits.WAITS:
        return metrics_waits.waits(episodes, query, metric)
    if metric == "rtt-18-weeks":
        return metrics_waits.rtt_completed(episodes, query)
    if metric == "rtt-incomplete":
        return metrics_waits.rtt_incomplete(episodes, query)
    if metric == "treatment-volumes":
        return metrics_activity.treatment_volumes(episodes, query, population)
    if metric == "repair-rate":
        return metrics_activity.repair_rate(episodes, query)
    if metric == "minimal-access-share":
        return metrics_activity.minimal_access_share(episodes, query)
    if metric == "mdt-before-treatment":
        return metrics_activity.mdt_before_treatment(episodes, query)
    if metric == "minimum-volumes":
        return metrics_centres.minimum_volumes(episodes, query)
    if metric == "capability-matrix":
        return metrics_centres.capability_matrix(services, episodes, query, centres)
    raise ValueError(f"Unknown metric {metric!r}; choose from {list(METRICS)}")


def compute_all(
    episodes: Sequence[Episode],
    query: MetricsQuery,
    *,
    population: Population | None = None,
    services: Sequence[Mapping[str, Any]] = (),
    centres: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every metric at once (a dashboard page); ``episodes`` is a sequence as it is re-read."""
    return {
        m: compute(m, episodes, query, population=population, services=services, centres=centres)
        for m in METRICS
    }


def period_to(today: date, months: int = 12) -> MetricsQuery:
    """A default dashboard period: from the first of the month ``months`` ago up to today."""
    year, month = today.year, today.month - months
    while month < 1:
        month += 12
        year -= 1
    return MetricsQuery(date(year, month, 1), today)
