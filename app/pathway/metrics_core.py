"""Shared machinery of the pathway metrics: the query, the breakdown keys and the statistics.

Every metric is a single pass over Episode facts that drops each episode into a cell keyed by
the requested breakdown, so the same metric is one ``GROUP BY`` over ``pathway_episode`` in SQL.
The percentile is nearest-rank (the value at rank ``ceil(p * n)`` of the sorted waits), which is
what PostgreSQL's ``percentile_disc`` returns, so the Python and SQL answers agree exactly.

Small numbers are never suppressed here: every cell carries its raw count and the dashboard
decides what to hide, because a suppressed value cannot be un-suppressed downstream.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Final, Literal

from app.pathway.model import Episode

DIMENSIONS: Final = ("centre", "modality", "age_band", "sex", "area")
"""What a metric can be broken down by or filtered on."""

AGE_BANDS: Final = ("<65", "65-74", "75-84", "85+")
UNKNOWN: Final = "unknown"
"""The key of a cell whose breakdown value is not recorded; kept so counts still add up."""

RTT_DAYS: Final = 126
"""18 weeks: the NHS Constitution referral-to-treatment standard (domain.md section 7)."""

CentreRole = Literal["referral", "treating", "mdt"]
Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    """A period (inclusive), the breakdown and the filters one metrics request asks for."""

    start: date
    end: date
    group_by: tuple[str, ...] = ()
    filters: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [d for d in (*self.group_by, *self.filters) if d not in DIMENSIONS]
        if unknown:
            raise ValueError(f"Unknown breakdown {unknown}; choose from {list(DIMENSIONS)}")
        if self.end < self.start:
            raise ValueError("The period ends before it starts")

    @property
    def first(self) -> str:
        return self.start.isoformat()

    @property
    def last(self) -> str:
        return self.end.isoformat()

    def period(self) -> dict[str, str]:
        return {"start": self.first, "end": self.last}


@lru_cache(maxsize=65536)
def day(value: str) -> int:
    """Day number of an ISO date; cached because a cohort has few distinct dates."""
    return date.fromisoformat(value[:10]).toordinal()


def days_between(first: str | None, second: str | None) -> int | None:
    if first is None or second is None:
        return None
    return day(second) - day(first)


def in_period(value: str | None, query: MetricsQuery) -> bool:
    """ISO dates compare as strings, which keeps the hot loop free of parsing."""
    return value is not None and query.first <= value[:10] <= query.last


def age_band(birth_date: str | None, on: str | None) -> str:
    if birth_date is None or on is None or len(birth_date) < 10 or len(on) < 10:
        return UNKNOWN
    age = int(on[:4]) - int(birth_date[:4])
    if on[5:10] < birth_date[5:10]:
        age -= 1
    if age < 65:
        return "<65"
    if age < 75:
        return "65-74"
    if age < 85:
        return "75-84"
    return "85+"


def centre_of(episode: Episode, role: CentreRole) -> str | None:
    if role == "treating":
        return episode.treating_centre
    if role == "mdt":
        return episode.mdt_centre
    return episode.referral_centre


def modality_of(episode: Episode) -> str | None:
    """What was done, or before treatment what the MDT decided (``medical-therapy`` included)."""
    if episode.modality:
        return episode.modality
    if episode.decision and episode.decision.startswith("decision-"):
        return episode.decision[len("decision-") :]
    return None


def _value(episode: Episode, dimension: str, role: CentreRole) -> str:
    if dimension == "centre":
        found = centre_of(episode, role)
    elif dimension == "modality":
        found = modality_of(episode)
    elif dimension == "age_band":
        return age_band(episode.birth_date, episode.referred)
    elif dimension == "sex":
        found = episode.sex
    else:
        found = episode.area
    return found if found else UNKNOWN


def keyer(query: MetricsQuery, role: CentreRole) -> Callable[[Episode], Key | None]:
    """The cell key of an episode, or None when the query's filters exclude it."""
    dims = query.group_by
    filters = [(d, query.filters[d]) for d in DIMENSIONS if d in query.filters]
    if not dims and not filters:
        return lambda _episode: ()  # the common whole-region case: no per-episode work
    if len(dims) == 1 and not filters:
        only = dims[0]
        return lambda episode: (_value(episode, only, role),)

    def key(episode: Episode) -> Key | None:
        for dimension, allowed in filters:
            if _value(episode, dimension, role) not in allowed:
                return None
        return tuple([_value(episode, d, role) for d in dims])

    return key


def live(episodes: Iterable[Episode]) -> Iterator[Episode]:
    """Episodes that count: an entered-in-error CarePlan never happened."""
    return (e for e in episodes if e.status != "entered-in-error")


def nearest_rank(ordered: list[int], p: float) -> int | None:
    """The nearest-rank percentile of an ascending list (None when empty)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(p * len(ordered)))
    return ordered[rank - 1]


def wait_summary(waits: list[int]) -> dict[str, Any]:
    ordered = sorted(waits)
    return {
        "count": len(ordered),
        "median": nearest_rank(ordered, 0.5),
        "p90": nearest_rank(ordered, 0.9),
    }


def share(numerator: int, denominator: int) -> dict[str, Any]:
    return {
        "numerator": numerator,
        "denominator": denominator,
        "share": numerator / denominator if denominator else None,
    }


def year_span(query: MetricsQuery) -> list[tuple[str, bool]]:
    """The calendar years the period touches, each with whether the period covers it whole."""
    return [
        (str(y), not (query.first <= f"{y}-01-01" and f"{y}-12-31" <= query.last))
        for y in range(query.start.year, query.end.year + 1)
    ]


def result(
    metric: str,
    query: MetricsQuery,
    cells: Mapping[Key, dict[str, Any]],
    total: dict[str, Any],
    *,
    dims: tuple[str, ...] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The common JSON shape: one row per breakdown cell (sorted) plus the whole-query total."""
    names = query.group_by if dims is None else dims
    return {
        "metric": metric,
        "period": query.period(),
        "group_by": list(names),
        "filters": {d: sorted(v) for d, v in query.filters.items()},
        **extra,
        "groups": [{"key": dict(zip(names, k, strict=True)), **cells[k]} for k in sorted(cells)],
        "total": total,
    }
