"""``Measure/[id]/$evaluate-measure`` (R4): a summary MeasureReport of a pathway metric.

Only the server's own pathway Measures can be evaluated, because their executable definition
is ``app.pathway.metrics`` (the criteria in the resources are prose). The report is computed
by the same code as ``/api/metrics`` for the same period, once for the whole region and once
per stratifier the Measure declares, so each stratifier of the report is one breakdown.
Individual and subject-list reports need per-patient evaluation we do not offer: 400, not a
summary that pretends to be one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from app.errors import InvalidRequest, ResourceNotFound
from app.fhir.context import context
from app.fhir.negotiation import output_format, require_json_body
from app.fhir.operations.parameters_in import ParametersInputs, QueryInputs, parameters_body
from app.fhir.operations.run import instance_id, respond
from app.fhir.operations.stored import by_id, split_canonical
from app.fhir.request_body import read_body
from app.fhir.resource_body import parse_json
from app.pathway import metrics_service as service
from app.pathway.measures import MEASURE_BASE, VERSION, measure_report
from app.pathway.metrics import DIMENSIONS, METRICS
from app.search.dates import format_instant

REPORT_TYPES: Final = ("summary", "population")
"""``population`` is the R5 name of ``summary``; some clients send it."""
_UNSUPPORTED: Final = ("subject", "practitioner", "lastReceivedOn", "provider")
_DATES: Final = ("valueDate", "valueDateTime", "valueString")
_ROWS: Final = frozenset({"minimum-volumes", "capability-matrix"})


async def evaluate_measure(request: Request) -> Response:
    ctx = context(request)
    output_format(request)  # a 406 before any work
    inputs = await _inputs(request, ctx.settings.max_body_bytes)
    metric = await _metric(request, inputs.string("measure"))
    report_type = inputs.string("reportType")
    if report_type is not None and report_type not in REPORT_TYPES:
        raise InvalidRequest(
            f"reportType '{report_type}' is not supported: only summary reports are produced",
            expression=("reportType",),
        )
    for name in _UNSUPPORTED:
        if inputs.string(name) is not None:
            raise InvalidRequest(
                f"'{name}' is not supported: the pathway measures report on the whole region",
                expression=(name,),
            )
    start_text, end_text = inputs.date("periodStart"), inputs.date("periodEnd")
    if start_text is None or end_text is None:
        missing = "periodStart" if start_text is None else "periodEnd"
        raise InvalidRequest(f"'{missing}' is required", expression=(missing,))
    query = service.build_query(
        service.parse_day(start_text, "periodStart"),
        service.parse_day(end_text, "periodEnd", last=True),
        start_parameter="periodStart",
    )
    strata = [] if metric in _ROWS else [replace(query, group_by=(d,)) for d in DIMENSIONS]
    computed = await service.evaluate_all(ctx, metric, [query, *strata])
    report = measure_report(computed[0], generated=format_instant(ctx.now()))
    for one in computed[1:]:
        _add_stratifiers(report, measure_report(one, generated=report["date"]))
    return respond(request, report)


class _QueryInputs(QueryInputs):
    def date(self, name: str) -> str | None:
        return self.string(name)


class _ParametersInputs(ParametersInputs):
    """``periodStart`` and ``periodEnd`` are R4 ``date`` parameters: ``valueDate`` (and, as
    some clients send, ``valueDateTime`` or ``valueString``)."""

    def date(self, name: str) -> str | None:
        found = self._single(name)
        if found is None:
            return None
        value: str = self._value(name, *found, _DATES)
        return value


async def _inputs(request: Request, max_body_bytes: int) -> _QueryInputs | _ParametersInputs:
    if request.method in ("GET", "HEAD"):
        return _QueryInputs(request.query_params.multi_items())
    require_json_body(request)
    body = parse_json(await read_body(request, max_body_bytes))
    return _ParametersInputs(parameters_body(body))


def _add_stratifiers(report: dict[str, Any], by_one: dict[str, Any]) -> None:
    """Move the one-dimension report's stratifier into the whole-region report's groups."""
    for group, other in zip(report["group"], by_one["group"], strict=True):
        if other.get("stratifier"):
            group.setdefault("stratifier", []).extend(other["stratifier"])


async def _metric(request: Request, url: str | None) -> str:
    """The metric of the Measure asked about: by id at instance level, by url at type level."""
    res_id = instance_id(request)
    if res_id is not None:
        if url is not None:
            raise InvalidRequest(
                "Name the Measure either in the path or with 'measure', not both",
                expression=("measure",),
            )
        if res_id in METRICS:
            return res_id
        await by_id(context(request), "Measure", res_id)  # 404 unless stored
        raise InvalidRequest(
            f"Measure/{res_id} is not a pathway measure this server can evaluate; "
            f"these are {', '.join(METRICS)}",
            expression=("Measure.id",),
        )
    if url is None:
        raise InvalidRequest(
            "Give the Measure: Measure/[id]/$evaluate-measure or 'measure' (its url)",
            expression=("measure",),
        )
    base, version = split_canonical(url)
    metric = base[len(MEASURE_BASE) :] if base.startswith(MEASURE_BASE) else None
    if metric not in METRICS or version not in (None, VERSION):
        raise ResourceNotFound(f"No Measure with url {url} can be evaluated", ("measure",))
    return metric
