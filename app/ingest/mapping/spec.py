"""A centre's mapping spec (``mappings/<centre>.yaml``), checked when it is loaded.

The spec is data an integration analyst reads and edits, so a mistake in it must be found at
start-up with the file and the place named, not when the first message arrives. Templates and
expressions are kept as plain YAML values here; ``expressions.check_template`` walks them once
at load time so an unknown expression key or a bad ``as`` type fails the load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.ingest.mapping.expressions import check_template

SourceKind = Literal["hl7v2", "csv", "fhir"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ods(_Strict):
    organization: str
    site: str | None = None
    name: str | None = None
    """The trust's name, for its Organization (several centres share a trust)."""


class Hl7Settings(_Strict):
    versions: list[str]
    """Accepted MSH-12 values; any other version is rejected (AR)."""
    sending_facility: str | None = None
    """Expected MSH-4.1, when the centre's engine sets it."""


class CsvSettings(_Strict):
    kind: str
    """The file kind: the ``rules`` key the rows map with."""
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    columns: list[str]
    required: list[str] = Field(default_factory=list)
    date_formats: list[str] = Field(default_factory=list)
    datetime_formats: list[str] = Field(default_factory=list)


class Terminology(_Strict):
    local_system: str
    concept_map: str
    vendor_systems: list[str] = Field(default_factory=list)
    """Code system urls the centre's own systems put on codes, read as ``local_system``."""


class ResourceRule(_Strict):
    type: str
    alias: str | None = None
    key: list[Any] = Field(default_factory=list)
    """Expressions whose values form the business key, hence the deterministic id."""
    identity: Literal["nhs-number", "ods"] | None = None
    """A regional resource: its id comes from the NHS number or ODS code alone, not the centre,
    so every centre's data lands on one Patient or Organization."""
    for_each: str | None = None
    when: Any = None
    template: dict[str, Any]
    action: Literal["upsert", "merge-patient"] = "upsert"
    retired: Any = None
    """For ``merge-patient``: the expression giving the retired record's NHS number or MRN."""


class MessageRule(_Strict):
    ignore: list[str] = Field(default_factory=list)
    resources: list[ResourceRule]


class Spec(_Strict):
    centre: str
    name: str
    ods: Ods
    source: SourceKind
    timezone: str = "Europe/London"
    hl7: Hl7Settings | None = None
    csv: CsvSettings | None = None
    identifiers: dict[str, str] = Field(default_factory=dict)
    terminology: Terminology
    ignore: list[str] = Field(default_factory=list)
    """Parts ignored in every message or row (e.g. ``EVN``, ``PV1-*``)."""
    rules: dict[str, MessageRule]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SpecError(Exception):
    """A mapping file that cannot be used; the message names the file and the place."""


def load_spec(path: Path) -> Spec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read the mapping: {exc}") from exc
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{path}: {exc}") from exc
    if spec.centre != path.stem:
        raise SpecError(f"{path}: centre {spec.centre!r} must match the file name")
    if spec.source == "hl7v2" and spec.hl7 is None:
        raise SpecError(f"{path}: an hl7v2 mapping needs an 'hl7' block")
    if spec.source == "csv" and spec.csv is None:
        raise SpecError(f"{path}: a csv mapping needs a 'csv' block")
    if spec.source == "fhir":
        _check_fhirpaths(path, spec)
    for key, rule in spec.rules.items():
        aliases = {r.alias for r in rule.resources if r.alias}
        for n, resource in enumerate(rule.resources):
            where = f"{path}: rules.{key}.resources[{n}]"
            try:
                check_template(resource.template, aliases)
                for part in resource.key:
                    check_template({"k": part}, aliases)
            except ValueError as exc:
                raise SpecError(f"{where}: {exc}") from exc
            if not resource.key and resource.identity is None and resource.action == "upsert":
                raise SpecError(f"{where}: needs a 'key' or an 'identity' for a stable id")
    return spec


_PATH_KEYS = ("from", "each", "translate", "local", "copy", "resolve")


def _paths(template: Any) -> list[str]:
    """Every source path a template reads (``where`` keys included)."""
    found: list[str] = []
    if isinstance(template, list):
        for item in template:
            found.extend(_paths(item))
    elif isinstance(template, dict):
        for key, value in template.items():
            if key in _PATH_KEYS and isinstance(value, str):
                found.append(value)
            elif key == "where" and isinstance(value, dict):
                found.extend(str(k) for k in value)
            else:
                found.extend(_paths(value))
    return found


def _check_fhirpaths(path: Path, spec: Spec) -> None:
    """FHIRPath in a FHIR mapping is compiled now: a typo fails the load, not a message."""
    from app.ingest.fhir_source import compile_path

    for key, rule in spec.rules.items():
        for n, res in enumerate(rule.resources):
            parts = [res.template, res.key, res.when, res.retired, res.for_each]
            for expression in _paths(parts) + ([res.for_each] if res.for_each else []):
                try:
                    compile_path(expression)
                except ValueError as exc:
                    raise SpecError(
                        f"{path}: rules.{key}.resources[{n}]: {expression!r}: {exc}"
                    ) from exc


def load_specs(directory: Path) -> dict[str, Spec]:
    """Every ``*.yaml`` under ``directory``, by centre slug."""
    specs: dict[str, Spec] = {}
    for path in sorted(directory.glob("*.yaml")):
        spec = load_spec(path)
        specs[spec.centre] = spec
    return specs
