"""FHIR R4 Measure definitions of the pathway metrics, and computed metrics as MeasureReports.

A Measure states once what each number means (population, numerator, scoring), so a report
consumer can check the definition rather than trust a dashboard label; the MeasureReport
carries the numbers with one stratifier per breakdown, as the JSON API returns them.
The criteria are written in plain language (``text/plain``): the executable definition is
``app.pathway.metrics``, and CQL would be a second definition to keep in step.
"""

from __future__ import annotations

from typing import Any, Final

from app.pathway.measure_definitions import DEFINITIONS
from app.pathway.metrics import METRICS

BASE: Final = "https://fhir.southlondon-mitral.nhs.uk"
MEASURE_BASE: Final = BASE + "/Measure/"
VERSION: Final = "1.0.0"
DIMENSION_SYSTEM: Final = BASE + "/CodeSystem/metric-breakdown"
STRATUM_SYSTEM: Final = BASE + "/CodeSystem/metric-stratum"
_POP: Final = "http://terminology.hl7.org/CodeSystem/measure-population"
_SCORING: Final = "http://terminology.hl7.org/CodeSystem/measure-scoring"
_TYPE: Final = "http://terminology.hl7.org/CodeSystem/measure-type"
_IMPROVEMENT: Final = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
_UCUM: Final = "http://unitsofmeasure.org"


def _code(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _criteria(text: str) -> dict[str, Any]:
    return {"language": "text/plain", "expression": text}


def _population(code: str, text: str) -> dict[str, Any]:
    return {"code": _code(_POP, code), "description": text, "criteria": _criteria(text)}


def _groups(definition: dict[str, Any]) -> list[dict[str, Any]]:
    if definition["scoring"] != "continuous-variable":
        pops = [_population(c, t) for c, t in definition["populations"].items()]
        return [{"population": pops, "stratifier": _stratifiers()}]
    rule = definition["rule"]
    return [
        {
            "code": _code(STRATUM_SYSTEM, statistic),
            "description": f"{statistic} wait in days",
            "population": [
                _population("measure-population", rule),
                _population("measure-observation", "Days from start to end event"),
            ],
            "stratifier": _stratifiers(),
        }
        for statistic in ("median", "p90")
    ]


def _stratifiers() -> list[dict[str, Any]]:
    return [
        {
            "code": _code(DIMENSION_SYSTEM, d),
            "criteria": _criteria(f"The episode's {d.replace('_', ' ')}"),
        }
        for d in ("centre", "modality", "age_band", "sex", "area")
    ]


def measure(metric: str) -> dict[str, Any]:
    """The Measure resource of one metric (its id is the metric id)."""
    definition = DEFINITIONS[metric]
    resource: dict[str, Any] = {
        "resourceType": "Measure",
        "id": metric,
        "url": MEASURE_BASE + metric,
        "version": VERSION,
        "name": "".join(p.capitalize() for p in metric.replace("-", " ").split()),
        "title": definition["title"],
        "status": "active",
        "experimental": False,
        "publisher": "South London Mitral Valve Network",
        "description": definition["title"],
        "scoring": _code(_SCORING, definition["scoring"]),
        "type": [_code(_TYPE, definition["type"])],
        "group": _groups(definition),
    }
    if "improvement" in definition:
        resource["improvementNotation"] = _code(_IMPROVEMENT, definition["improvement"])
    return resource


def measures() -> list[dict[str, Any]]:
    """Every metric's Measure, in METRICS order."""
    return [measure(m) for m in METRICS]


def _quantity(value: float | None, unit: str | None = None) -> dict[str, Any] | None:
    if value is None:
        return None
    quantity: dict[str, Any] = {"value": round(value, 6)}
    if unit == "d":
        quantity |= {"unit": "d", "system": _UCUM, "code": "d"}
    elif unit:
        quantity["unit"] = unit
    return quantity


Cell = tuple[dict[str, str], dict[str, int], dict[str, Any] | None]
"""A stratum: its breakdown values, its population counts and its score."""


def _concept(text: str, system: str = STRATUM_SYSTEM) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": text}], "text": text}


def _stratum(key: dict[str, str], pops: dict[str, int], score: dict[str, Any] | None) -> Any:
    stratum: dict[str, Any] = {}
    if len(key) == 1:
        stratum["value"] = {"text": next(iter(key.values()))}
    else:
        stratum["component"] = [
            {"code": _concept(d, DIMENSION_SYSTEM), "value": {"text": v}} for d, v in key.items()
        ]
    stratum["population"] = [{"code": _code(_POP, c), "count": n} for c, n in pops.items()]
    if score is not None:
        stratum["measureScore"] = score
    return stratum


def _group(
    dims: list[str],
    total: Cell,
    cells: list[Cell],
    code: str | None = None,
) -> dict[str, Any]:
    _, pops, score = total
    group: dict[str, Any] = {}
    if code is not None:
        group["code"] = _concept(code)
    group["population"] = [{"code": _code(_POP, c), "count": n} for c, n in pops.items()]
    if score is not None:
        group["measureScore"] = score
    if dims and cells:
        group["stratifier"] = [
            {
                "code": [_concept(d, DIMENSION_SYSTEM) for d in dims],
                "stratum": [_stratum(*cell) for cell in cells],
            }
        ]
    return group


def _share_cell(key: dict[str, str], value: dict[str, Any]) -> Cell:
    pops = {"numerator": value["numerator"], "denominator": value["denominator"]}
    return key, pops, _quantity(value["share"])


def _groups_of(computed: dict[str, Any]) -> list[dict[str, Any]]:
    metric = computed["metric"]
    scoring = DEFINITIONS[metric]["scoring"]
    if metric in ("minimum-volumes", "capability-matrix"):
        return [_rows_group(computed)]
    dims = computed["group_by"]
    rows = computed["groups"]
    if scoring == "continuous-variable":
        return [
            _group(
                dims,
                (
                    {},
                    {"measure-population": computed["total"]["count"]},
                    _quantity(computed["total"][stat], "d"),
                ),
                [
                    (r["key"], {"measure-population": r["count"]}, _quantity(r[stat], "d"))
                    for r in rows
                ],
                code=stat,
            )
            for stat in ("median", "p90")
        ]
    if scoring == "proportion":
        total = _share_cell({}, computed["total"])
        return [_group(dims, total, [_share_cell(r["key"], r) for r in rows])]
    if metric == "treatment-volumes":
        return [_volumes_group(computed)]
    total_cell: Cell = ({}, {"initial-population": computed["total"]["count"]}, None)
    return [
        _group(
            dims, total_cell, [(r["key"], {"initial-population": r["count"]}, None) for r in rows]
        )
    ]


def _volumes_group(computed: dict[str, Any]) -> dict[str, Any]:
    rate = "per 100,000 population"
    total = computed["total"]
    pops = {"numerator": total["count"]}
    if total["population"] is not None:
        pops["denominator"] = total["population"]
    cells: list[Cell] = []
    for row in computed["groups"]:
        row_pops = {"numerator": row["count"]}
        if row["population"] is not None:
            row_pops["denominator"] = row["population"]
        cells.append((row["key"], row_pops, _quantity(row["rate_per_100k"], rate)))
    score = _quantity(total["annual_rate_per_100k"], rate + " per year")
    return _group(computed["group_by"], ({}, pops, score), cells)


def _rows_group(computed: dict[str, Any]) -> dict[str, Any]:
    cells: list[Cell] = []
    if computed["metric"] == "minimum-volumes":
        dims = ["year", "level", "id", "activity", "meets"]
        for row in computed["rows"]:
            meets = {True: "meets", False: "below", None: "no-standard"}[row["meets"]]
            key = {
                "year": row["year"],
                "level": row["level"],
                "id": row["id"],
                "activity": row["activity"],
                "meets": meets,
            }
            cells.append((key, {"initial-population": row["count"]}, None))
        total = sum(r["count"] for r in computed["rows"] if r["level"] == "centre")
    else:
        dims = ["centre", "modality", "offers"]
        total = 0
        for row in computed["rows"]:
            for modality, cell in row["modalities"].items():
                offers = "offered" if cell["offers"] else "not-offered"
                key = {"centre": row["centre"], "modality": modality, "offers": offers}
                cells.append((key, {"initial-population": cell["count"]}, None))
                total += cell["count"]
    return _group(dims, ({}, {"initial-population": total}, None), cells)


def measure_report(
    computed: dict[str, Any], *, generated: str, reporter: str | None = None
) -> dict[str, Any]:
    """A summary MeasureReport of a computed metric (``app.pathway.metrics.compute`` output).

    ``generated`` is the report's dateTime (passed in so reports are reproducible in tests);
    ``reporter`` an optional ``Organization/id`` reference.
    """
    metric = computed["metric"]
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": f"{MEASURE_BASE}{metric}|{VERSION}",
        "date": generated,
        "period": dict(computed["period"]),
        "group": _groups_of(computed),
    }
    if reporter is not None:
        report["reporter"] = {"reference": reporter}
    return report
