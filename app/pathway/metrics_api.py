"""``/api/metrics``: the pathway metrics as JSON for the dashboard, and the Measures at start-up.

Plain JSON rather than MeasureReports because a chart wants rows, not strata; the FHIR view
of the same numbers is ``Measure/{id}/$evaluate-measure``. Errors are still
OperationOutcomes naming the query parameter at fault, like every other error of the server.

The router's lifespan publishes the Measure resources into the store once the app's own
start-up has built the FHIR context, so ``GET /fhir/Measure`` reads them like any resource.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any, Final

import orjson
from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response

from app.errors import InvalidRequest
from app.fhir.context import FhirContext, context
from app.fhir.publish import Published, PublishError, publish_terminology
from app.pathway import metrics_service as service
from app.pathway.measure_definitions import DEFINITIONS
from app.pathway.measures import MEASURE_BASE, VERSION, measures
from app.pathway.metrics import DIMENSIONS, METRICS, MetricsQuery

log = logging.getLogger(__name__)

PERIOD: Final = frozenset({"start", "end"})
GROUP_BY: Final = "group-by"
IGNORED: Final = frozenset({"_format", "_pretty"})


async def publish(ctx: FhirContext) -> Published:
    """Store every metric's Measure under its id; unchanged ones keep their version."""
    try:
        return await publish_terminology(ctx, measures())
    except PublishError as exc:  # a bug in measures.py, not a deployment problem
        raise RuntimeError(f"the pathway Measures cannot be published: {exc}") from None


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    published = await publish(app.state.fhir)
    log.info(
        "pathway: %d Measures published (%d new, %d changed)",
        len(METRICS),
        len(published.created),
        len(published.updated),
    )
    yield


router = APIRouter(prefix="/api/metrics", tags=["metrics"], lifespan=_lifespan)


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _description(metric: str) -> str:
    definition = DEFINITIONS[metric]
    if "rule" in definition:
        return str(definition["rule"])
    return "; ".join(f"{k}: {v}" for k, v in definition["populations"].items())


@router.get("", summary="The pathway metrics")
async def list_metrics(request: Request) -> Response:
    rows = [
        {
            "id": m,
            "title": DEFINITIONS[m]["title"],
            "description": _description(m),
            "scoring": DEFINITIONS[m]["scoring"],
            "measure": f"{MEASURE_BASE}{m}",
            "version": VERSION,
            "href": f"{request.url.path.rstrip('/')}/{m}",
        }
        for m in METRICS
    ]
    return _json({"metrics": rows, "dimensions": _dimensions()})


def _dimensions() -> list[str]:
    return [d.replace("_", "-") for d in DIMENSIONS]


def _query(request: Request) -> MetricsQuery:
    """Period, breakdown and filters from the query string; anything unknown is an error,
    because a silently ignored filter gives a plausible wrong number."""
    period: dict[str, str] = {}
    group_by: list[str] = []
    filters: dict[str, set[str]] = {}
    for name, value in request.query_params.multi_items():
        if name in IGNORED:
            continue
        if name in PERIOD:
            if name in period:
                raise InvalidRequest(f"'{name}' may be given only once", expression=(name,))
            period[name] = value
        elif name == GROUP_BY:
            for part in value.split(","):
                found = service.dimension(part, GROUP_BY)
                if found in group_by:
                    raise InvalidRequest(
                        f"'{part}' is named twice in group-by", expression=(GROUP_BY,)
                    )
                group_by.append(found)
        else:
            found = service.dimension(name, name)
            values = {v.strip() for v in value.split(",") if v.strip()}
            if not values:
                raise InvalidRequest(f"Filter '{name}' has no value", expression=(name,))
            filters.setdefault(found, set()).update(values)
    start, end = _period(request, period)
    return service.build_query(
        start, end, tuple(group_by), {d: frozenset(v) for d, v in filters.items()}
    )


def _period(request: Request, period: dict[str, str]) -> tuple[date, date]:
    default_start, default_end = service.default_period(service.today(context(request)))
    end = service.parse_day(period["end"], "end", last=True) if "end" in period else default_end
    if "start" in period:
        start = service.parse_day(period["start"], "start")
    elif "end" in period:
        start = service.months_before(end)
    else:
        start = default_start
    return start, end


@router.get("/{metric}", summary="One metric over a period, broken down and filtered")
async def get_metric(request: Request, metric: str) -> Response:
    metric = service.metric_id(metric)
    query = _query(request)
    computed = await service.evaluate(context(request), metric, query)
    return _json(computed)
