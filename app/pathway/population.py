"""Population denominators for treatment rates, read from a data file that names its source.

The figures live in a file rather than code because they change every year (ONS releases new
mid-year estimates) and a rate is only as honest as its stated denominator: the file's
``source`` travels with every rate computed from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

DEFAULT_FILE: Final = Path(__file__).resolve().parents[2] / "pathway" / "population.json"


@dataclass(frozen=True, slots=True)
class Population:
    """Denominators for one region and its areas, with where they came from."""

    source: str
    reference_date: str
    approximate: bool
    region_code: str
    region_name: str
    region_total: int
    areas: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Area code -> (name, population)."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Other ways an episode may name an area (upper-cased) -> area code."""

    def area_code(self, area: str | None) -> str | None:
        """The file's code for an episode's area, or None when the file has no denominator."""
        if area is None:
            return None
        if area in self.areas:
            return area
        return self.aliases.get(area.strip().upper())

    def of(self, area: str | None) -> int | None:
        """The population of an area, or None when the file does not know it."""
        code = self.area_code(area)
        return self.areas[code][1] if code is not None else None

    def describe(self) -> dict[str, Any]:
        """What a rate's reader needs to judge its denominator."""
        return {
            "source": self.source,
            "reference_date": self.reference_date,
            "approximate": self.approximate,
            "region": {"code": self.region_code, "name": self.region_name},
            "region_total": self.region_total,
        }


def parse_population(raw: dict[str, Any]) -> Population:
    """Check the file's shape up front so a bad file fails at start-up, not in a chart."""
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ValueError("A population file must state its source")
    region = raw.get("region")
    if not isinstance(region, dict) or not isinstance(region.get("population"), int):
        raise ValueError("A population file needs region.population (an integer)")
    areas: dict[str, tuple[str, int]] = {}
    names: dict[str, str] = {}
    for code, entry in (raw.get("areas") or {}).items():
        population = entry.get("population")
        if not isinstance(population, int) or population <= 0:
            raise ValueError(f"Area {code}: population must be a positive integer")
        name = str(entry.get("name", code))
        areas[code] = (name, population)
        names[name.upper()] = code
    aliases = {**names, **{str(k).upper(): str(v) for k, v in (raw.get("aliases") or {}).items()}}
    dangling = sorted(v for v in aliases.values() if v not in areas)
    if dangling:
        raise ValueError(f"Aliases point at unknown areas: {dangling}")
    return Population(
        source=source,
        reference_date=str(raw.get("reference_date", "")),
        approximate=bool(raw.get("approximate", False)),
        region_code=str(region.get("code", "")),
        region_name=str(region.get("name", "")),
        region_total=region["population"],
        areas=areas,
        aliases=aliases,
    )


def load_population(path: Path | None = None) -> Population:
    """The denominators file (``pathway/population.json`` at the repository root by default)."""
    target = path if path is not None else DEFAULT_FILE
    with target.open(encoding="utf-8") as handle:
        raw = json.load(handle)
    if not isinstance(raw, dict):
        raise ValueError(f"{target}: expected a JSON object")
    return parse_population(raw)
