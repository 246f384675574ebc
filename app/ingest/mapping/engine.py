"""Mapping one unit of centre input to regional resources with the centre's spec.

Pure: no database, no network. Ids are deterministic (a UUIDv5 of centre, type and business
key, or of the NHS number / ODS code for regional resources), so mapping the same input twice
gives the same resources and the store's no-op update keeps their versions: re-ingest is
idempotent, and a corrected input lands on the same resource.
"""

from __future__ import annotations

import fnmatch
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from app.errors import Issue
from app.ingest.mapping.compiled import DROP
from app.ingest.mapping.expressions import (
    Evaluation,
    LocalCode,
    Node,
    Translate,
    compile_template,
    dropped,
)
from app.ingest.mapping.spec import Hl7Settings, MessageRule, ResourceRule, Spec
from app.ingest.records import ROOT, Scope, SourceRecord

NAMESPACE = uuid.UUID("6f1c2a8e-4d0b-5c1e-9a7f-3e2d1c0b9a88")
"""Fixed for ever: changing it would give every ingested resource a new id."""


_NAMESPACE_BYTES = NAMESPACE.bytes


def resource_id(centre: str, res_type: str, identity: str | None, parts: Sequence[str]) -> str:
    if identity == "nhs-number":
        name = f"nhs-number|{parts[0]}"
    elif identity == "ods":
        name = f"ods|{parts[0]}"
    else:
        name = f"{centre}|{res_type}|{'|'.join(parts)}"
    return _remembered_id(name)


def stable_id(name: str) -> str:
    """``str(uuid.uuid5(NAMESPACE, name))`` without building a UUID object: every id the
    service derives from a name (resources, Provenance, CarePlans) is this."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_remembered_id = lru_cache(maxsize=65536)(stable_id)
"""Cached: a feed names the same Patient and Organizations in message after message."""


@lru_cache(maxsize=256)
def organization_id(ods: str) -> str:
    """The id of the Organization of an ODS code (as a mapping's ``ods`` identity gives it)."""
    return stable_id(f"ods|{ods}")


@dataclass(frozen=True, slots=True)
class Merge:
    """An A40-style merge: the retired record's identifier now belongs to ``survivor``."""

    survivor: str
    """``Patient/<id>``."""
    retired_system: str
    retired_value: str


@dataclass
class Mapped:
    resources: list[dict[str, Any]] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


@dataclass(frozen=True)
class Terminology:
    """The centre's code translation, cached: a feed repeats the same few codes."""

    translate: Translate
    local: LocalCode


def _variables(spec: Spec) -> dict[str, str]:
    out = {f"$id.{name}": url for name, url in spec.identifiers.items()}
    out["$ods.organization"] = spec.ods.organization
    out["$ods.site"] = spec.ods.site or spec.ods.organization
    out["$centre"] = spec.centre
    # Longest first, so $id.mrn does not clobber $id.mrn-old.
    return dict(sorted(out.items(), key=lambda kv: -len(kv[0])))


@lru_cache(maxsize=65536)
def _ignored(patterns: tuple[str, ...], part: str) -> bool:
    """``PRD-1`` ignores PRD-1 and its components (PRD-1.2); ``PRD`` the whole segment."""
    return any(
        fnmatch.fnmatchcase(part, p)
        or fnmatch.fnmatchcase(part, p + ".*")
        or fnmatch.fnmatchcase(part, p + "-*")
        for p in patterns
    )


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A resource rule's templates, compiled once when the mapper is made."""

    when: Node | None
    key: list[tuple[Node, str]]
    """Each key part's node and the source path a missing value is reported at."""
    retired: Node
    template: Node


def _compile(res: ResourceRule) -> _Compiled:
    return _Compiled(
        when=None if res.when is None else compile_template(res.when, res.type),
        key=[
            (
                compile_template(part, f"{res.type}.id"),
                part.get("from", "") if isinstance(part, dict) else "",
            )
            for part in res.key
        ],
        retired=compile_template(res.retired, "Patient.identifier"),
        template=compile_template(res.template, res.type),
    )


class Mapper:
    """One centre's spec, ready to map records."""

    def __init__(self, spec: Spec, terminology: Terminology) -> None:
        self.spec = spec
        self.terminology = terminology
        self._variables = _variables(spec)
        csv = spec.csv
        self._convert = {
            "zone": spec.zone,
            "date_formats": tuple(csv.date_formats) if csv else (),
            "datetime_formats": tuple(csv.datetime_formats) if csv else (),
        }
        self._verdicts: dict[int, tuple[MessageRule, tuple[str, ...], dict[str, bool]]] = {}
        """id(rule) -> (the rule, its ignore patterns, part -> ignored?)."""
        # By id(): the rules live as long as self.spec, and a rule (a dict inside) has no hash.
        self._compiled = {
            id(res): _compile(res) for rule in spec.rules.values() for res in rule.resources
        }

    def id_for(self, res_type: str, identity: str | None, parts: list[str]) -> str:
        return resource_id(self.spec.centre, res_type, identity, parts)

    def check_source(self, record: SourceRecord) -> Issue | None:
        """Why this record is not for this centre's mapping at all (wrong version, unknown
        message type), or None."""
        hl7 = self.spec.hl7
        if hl7 is not None:  # only HL7 v2 records have a version and a sending facility
            problem = self._check_header(record, hl7)
            if problem is not None:
                return problem
        if record.rule_key not in self.spec.rules:
            what = {"hl7v2": "message type", "csv": "file kind", "fhir": "resource type"}
            return Issue(
                "error",
                "not-supported",
                f"{record.position}: {what.get(record.kind, 'input')} {record.rule_key!r} is "
                f"not mapped for {self.spec.centre} (mapped: {', '.join(self.spec.rules)})",
            )
        return None

    def _check_header(self, record: SourceRecord, hl7: Hl7Settings) -> Issue | None:
        version = getattr(record, "version", None)
        if version is not None and version not in hl7.versions:
            return Issue(
                "error",
                "not-supported",
                f"MSH-12 ({record.position}): version {version!r} is not accepted from "
                f"{self.spec.centre} (expected {', '.join(hl7.versions)})",
            )
        facility = getattr(record, "sending_facility", None)
        if hl7.sending_facility and facility != hl7.sending_facility:
            return Issue(
                "error",
                "not-supported",
                f"MSH-4 ({record.position}): sending facility {facility!r} is not "
                f"{self.spec.centre}'s ({hl7.sending_facility!r}): sent to the wrong centre?",
            )
        return None

    def evaluation(self, record: SourceRecord, aliases: dict[str, str] | None = None) -> Evaluation:
        return Evaluation(
            record=record,
            variables=self._variables,
            translate=self.terminology.translate,
            local=self.terminology.local,
            id_for=self.id_for,
            convert_options=self._convert,
            aliases=dict(aliases or {}),
        )

    def plan(self, ev: Evaluation) -> list[tuple[ResourceRule, Scope, str]]:
        """First pass: each resource's scope and id, so templates can refer to any alias."""
        rule = self.spec.rules[ev.record.rule_key]
        planned: list[tuple[ResourceRule, Scope, str]] = []
        for res in rule.resources:
            compiled = self._compiled[id(res)]
            scopes = ev.record.each(res.for_each) if res.for_each else [ROOT]
            for scope in scopes:
                if compiled.when is not None and compiled.when(ev, scope) is DROP:
                    continue
                parts: list[str] = []
                for node, path in compiled.key:
                    before = len(ev.issues)
                    value = node(ev, scope)
                    if value is DROP:
                        if len(ev.issues) == before:  # not already said (e.g. a bad value)
                            ev.problem(
                                path, f"no value for the {res.type} key", res.type, "required"
                            )
                        break
                    parts.append(str(value))
                else:
                    res_id = self.id_for(res.type, res.identity, parts)
                    planned.append((res, scope, res_id))
                    if res.alias and res.alias not in ev.aliases:
                        ev.aliases[res.alias] = f"{res.type}/{res_id}"
        return planned

    def build(self, ev: Evaluation, planned: list[tuple[ResourceRule, Scope, str]]) -> Mapped:
        out = Mapped()
        for res, scope, res_id in planned:
            compiled = self._compiled[id(res)]
            if res.action == "merge-patient":
                retired = compiled.retired(ev, scope)
                if isinstance(retired, dict) and retired.get("system") and retired.get("value"):
                    out.merges.append(
                        Merge(f"Patient/{res_id}", retired["system"], str(retired["value"]))
                    )
                elif not dropped(retired):
                    ev.problem("", "the retired identifier needs a system and a value", "")
            body = compiled.template(ev, scope)
            resource: dict[str, Any] = {"resourceType": res.type, "id": res_id}
            if not dropped(body):
                if "id" in body or "resourceType" in body:
                    body = {k: v for k, v in body.items() if k not in ("id", "resourceType")}
                resource.update(body)
            out.resources.append(resource)
        return out

    def map_record(self, record: SourceRecord) -> Mapped:
        problem = self.check_source(record)
        if problem is not None:
            return Mapped(errors=[problem])
        ev = self.evaluation(record)
        out = self.build(ev, self.plan(ev))
        out.errors = ev.issues
        if not out.errors:  # a quarantined unit's unread parts are noise next to its errors
            out.warnings = self.unread_warnings(record, self.spec.rules[record.rule_key])
        return out

    def unread_warnings(self, record: SourceRecord, rule: MessageRule) -> list[Issue]:
        """Parts of the input neither mapped nor declared ignored: reported, never silent."""
        # Per rule, the verdict on each part seen: a feed's parts are a small set.
        known = self._verdicts.get(id(rule))
        if known is None or known[0] is not rule or len(known[2]) > 65536:
            patterns = tuple(self.spec.ignore) + tuple(rule.ignore)
            known = self._verdicts[id(rule)] = (rule, patterns, {})
        _, patterns, verdicts = known

        def ignored(part: str) -> bool:
            verdict = verdicts.get(part)
            if verdict is None:
                verdict = verdicts[part] = _ignored(patterns, part)
            return verdict

        left = [part for part in record.unread(ignored) if not ignored(part)]
        if not left:
            return []
        if len(left) > 40:
            left = [*left[:40], f"and {len(left) - 40} more"]
        return [
            Issue(
                "warning",
                "informational",
                f"{record.position}: not mapped and not declared ignored in "
                f"mappings/{self.spec.centre}.yaml: {', '.join(left)}",
            )
        ]
