"""Centre-level views: annual volumes against minimum standards, and what centres offer vs do.

Minimum volumes are judged per calendar year, because the published standards are annual.
Only standards in the domain reference are used; where it gives none the row says so instead
of carrying an invented threshold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

from app.pathway.metrics_core import MetricsQuery, in_period, keyer, live, year_span
from app.pathway.model import MODALITIES, Episode

BRIDGEWATER_2007: Final = (
    "Bridgewater B et al. Mitral repair best practice: proposed standards. Heart 2007 "
    "(PMC1860708), Table 1: surgeon more than 25 mitral repairs a year, hospital more than 50."
)
STANDARDS: Final[dict[str, dict[str, Any]]] = {
    "surgical-repair": {
        "operator": 25,
        "centre": 50,
        "rule": "more than",
        "source": BRIDGEWATER_2007,
    },
    "transcatheter-repair": {"operator": None, "centre": None, "source": "no published standard"},
    "transcatheter-replacement": {
        "operator": None,
        "centre": None,
        "source": "no published standard",
    },
}
"""Annual minimum volumes per activity; thresholds are exclusive ("more than")."""

SURGICAL: Final = frozenset({"surgery", "minimal-access-surgery"})
SERVICE_APPROACHES: Final = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/surgical-approach"
TRANSCATHETER_TYPES: Final = {
    "transcatheter-repair": frozenset(
        {"865051000000105", "1237589003", "1231449003", "1255141008", "K35.8"}
    ),
    "transcatheter-replacement": frozenset({"720583008", "1231726001"}),
}
"""valve-procedures-transcatheter-* value set codes (SNOMED CT and OPCS-4), from terminology/."""
APPROACH_MODALITY: Final = {
    "open-surgical": "surgery",
    "sternotomy": "surgery",
    "minimal-access": "minimal-access-surgery",
    "thoracoscopic": "minimal-access-surgery",
    "right-mini-thoracotomy": "minimal-access-surgery",
}


def activity(episode: Episode) -> str | None:
    """The standard an episode's procedure is judged under."""
    if episode.modality in SURGICAL:
        return "surgical-repair" if episode.repair else None
    return episode.modality if episode.modality in STANDARDS else None


def minimum_volumes(episodes: Iterable[Episode], query: MetricsQuery) -> dict[str, Any]:
    """Each centre's and operator's annual volume of each standard's activity, and the verdict.

    The breakdown is ignored (the rows are centres and operators), the filters are applied.
    """
    key = keyer(replace(query, group_by=()), "treating")
    counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for episode in live(episodes):
        if not in_period(episode.treated, query) or key(episode) is None:
            continue
        what = activity(episode)
        if what is None:
            continue
        year = str(episode.treated)[:4]
        counts[(year, "centre", episode.treating_centre or "unknown", what)] += 1
        if episode.operator:
            counts[(year, "operator", episode.operator, what)] += 1
    partial = dict(year_span(query))
    rows = []
    for (year, level, who, what), n in sorted(counts.items()):
        standard = STANDARDS[what]
        threshold = standard[level]
        rows.append(
            {
                "year": year,
                "partial_year": partial.get(year, True),
                "level": level,
                "id": who,
                "activity": what,
                "count": n,
                "standard": threshold,
                "meets": n > threshold if threshold is not None else None,
                "source": standard["source"],
            }
        )
    return {
        "metric": "minimum-volumes",
        "period": query.period(),
        "filters": {d: sorted(v) for d, v in query.filters.items()},
        "standards": STANDARDS,
        "rows": rows,
    }


def offered(service: Mapping[str, Any]) -> set[str]:
    """The modalities an MV-Service offers, from its approaches and procedure types.

    A surgical approach is enough for surgery; "transcatheter" does not say repair or
    replacement, so those need a procedure type from the matching value set as well.
    """
    approaches = {
        c.get("code")
        for cc in service.get("characteristic") or []
        for c in cc.get("coding") or []
        if c.get("system") == SERVICE_APPROACHES
    }
    types = {c.get("code") for cc in service.get("type") or [] for c in cc.get("coding") or []}
    found = {APPROACH_MODALITY[a] for a in approaches if a in APPROACH_MODALITY}
    if approaches & {"transcatheter", "transfemoral", "transapical", "transseptal"}:
        found |= {m for m, codes in TRANSCATHETER_TYPES.items() if types & codes}
    return found


def _provider(service: Mapping[str, Any], centres: Mapping[str, str]) -> str | None:
    provided = service.get("providedBy") or {}
    identifier = provided.get("identifier") or {}
    if identifier.get("value"):
        return str(identifier["value"])
    reference = provided.get("reference")
    return centres.get(reference, reference) if isinstance(reference, str) else None


def capability_matrix(
    services: Iterable[Mapping[str, Any]],
    episodes: Iterable[Episode],
    query: MetricsQuery,
    centres: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Per centre and modality: does it offer it (active MV-Service), and how many it did.

    ``centres`` maps a ``providedBy`` reference (``Organization/id``) to the ODS code the
    episodes use, for services that reference their organisation without an identifier.
    A mismatch (did some, offers none) is reported, not hidden: it is what the matrix is for.
    """
    lookup = centres or {}
    offers: dict[str, set[str]] = defaultdict(set)
    for service in services:
        if service.get("active") is False:
            continue
        centre = _provider(service, lookup)
        if centre is not None:
            offers[centre] |= offered(service)
    key = keyer(replace(query, group_by=()), "treating")
    did: dict[tuple[str, str], int] = defaultdict(int)
    for episode in live(episodes):
        if in_period(episode.treated, query) and episode.modality and key(episode) is not None:
            did[(episode.treating_centre or "unknown", episode.modality)] += 1
    rows = []
    for centre in sorted(set(offers) | {c for c, _ in did}):
        cells = {
            m: {"offers": m in offers.get(centre, set()), "count": did.get((centre, m), 0)}
            for m in MODALITIES
        }
        unexpected = [m for m, c in cells.items() if c["count"] and not c["offers"]]
        rows.append({"centre": centre, "modalities": cells, "unexpected": unexpected})
    return {
        "metric": "capability-matrix",
        "period": query.period(),
        "filters": {d: sorted(v) for d, v in query.filters.items()},
        "modalities": list(MODALITIES),
        "rows": rows,
    }
