"""Referral volumes, pathway waits and the 18-week RTT shares.

Which date puts an episode in the period follows the national RTT returns: a referral counts in
the period it was received, a wait counts in the period its end event happened (completed
pathways by clock stop), and an incomplete pathway is one still waiting on the period's last day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Final

from app.pathway.metrics_core import (
    RTT_DAYS,
    CentreRole,
    Key,
    MetricsQuery,
    day,
    days_between,
    in_period,
    keyer,
    live,
    result,
    share,
    wait_summary,
)
from app.pathway.model import Episode

WAITS: Final[dict[str, tuple[str, str, CentreRole]]] = {
    "wait-referral-mdt": ("referred", "mdt", "referral"),
    "wait-mdt-treatment": ("mdt", "treated", "treating"),
    "wait-referral-treatment": ("referred", "treated", "treating"),
}
"""Wait metric -> (start field, end field, whose centre it is)."""


def referrals(episodes: Iterable[Episode], query: MetricsQuery) -> dict[str, Any]:
    """Referrals received in the period, by the centre that received them."""
    key = keyer(query, "referral")
    counts: dict[Key, int] = defaultdict(int)
    for episode in live(episodes):
        if not in_period(episode.referred, query):
            continue
        k = key(episode)
        if k is not None:
            counts[k] += 1
    cells = {k: {"count": n} for k, n in counts.items()}
    return result("referrals", query, cells, {"count": sum(counts.values())})


def waits(episodes: Iterable[Episode], query: MetricsQuery, metric: str) -> dict[str, Any]:
    """Median and 90th percentile of one wait, in days, for waits ending in the period.

    A negative wait is a data error (an event dated before the referral); it is counted in
    ``excluded`` rather than dragging the percentiles, so the data quality stays visible.
    """
    start_field, end_field, role = WAITS[metric]
    key = keyer(query, role)
    cells: dict[Key, list[int]] = defaultdict(list)
    excluded = 0
    for episode in live(episodes):
        end = getattr(episode, end_field)
        if not in_period(end, query):
            continue
        k = key(episode)
        if k is None:
            continue
        wait = days_between(getattr(episode, start_field), end)
        if wait is None or wait < 0:
            excluded += 1
            continue
        cells[k].append(wait)
    everything = [w for values in cells.values() for w in values]
    return result(
        metric,
        query,
        {k: wait_summary(v) for k, v in cells.items()},
        wait_summary(everything),
        unit="d",
        percentile_method="nearest-rank",
        excluded=excluded,
    )


def rtt_completed(episodes: Iterable[Episode], query: MetricsQuery) -> dict[str, Any]:
    """Share of episodes treated in the period whose referral-to-treatment wait was <= 18 weeks."""
    key = keyer(query, "treating")
    cells: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for episode in live(episodes):
        if not in_period(episode.treated, query):
            continue
        k = key(episode)
        wait = days_between(episode.referred, episode.treated)
        if k is None or wait is None or wait < 0:
            continue
        cell = cells[k]
        cell[1] += 1
        if wait <= RTT_DAYS:
            cell[0] += 1
    return _shares("rtt-18-weeks", query, cells)


def clock_stop(episode: Episode) -> str | None:
    """When the RTT clock stopped: the recorded stop, treatment or the end of the episode."""
    stops = [d for d in (episode.rtt_stop, episode.treated, episode.ended) if d]
    return min(stops) if stops else None


def rtt_incomplete(episodes: Iterable[Episode], query: MetricsQuery) -> dict[str, Any]:
    """Share of pathways still open on the period's last day that had waited <= 18 weeks.

    This is the NHS operational view (92% of incomplete pathways under 18 weeks): it is taken
    at one instant, so the period start does not matter.
    """
    key = keyer(query, "referral")
    last = query.last
    end_day = day(last)
    cells: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for episode in live(episodes):
        if episode.referred[:10] > last:
            continue
        stop = clock_stop(episode)
        if stop is not None and stop[:10] <= last:
            continue
        k = key(episode)
        if k is None:
            continue
        cell = cells[k]
        cell[1] += 1
        if end_day - day(episode.referred) <= RTT_DAYS:
            cell[0] += 1
    return _shares("rtt-incomplete", query, cells)


def _shares(metric: str, query: MetricsQuery, cells: dict[Key, list[int]]) -> dict[str, Any]:
    within = sum(c[0] for c in cells.values())
    total = sum(c[1] for c in cells.values())
    return result(
        metric,
        query,
        {k: share(c[0], c[1]) for k, c in cells.items()},
        share(within, total),
        threshold_days=RTT_DAYS,
    )
