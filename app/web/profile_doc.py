"""What a profile page shows, read once from a built StructureDefinition (pure data).

The HTML pages (``profile_pages``) and the markdown in ``docs/profiles`` (``profile_markdown``)
both render these records, so the served documentation and the committed one cannot say
different things.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NOISE_CONSTRAINTS = frozenset({"ele-1", "ext-1"})
"""On every element of every resource: listing them per profile would bury the others."""


@dataclass(frozen=True, slots=True)
class TypeRef:
    code: str
    targets: tuple[str, ...] = ()
    """Reference/canonical target profile urls."""
    profiles: tuple[str, ...] = ()
    """Profiles of the type itself (an extension's definition)."""


@dataclass(frozen=True, slots=True)
class ElementRow:
    id: str
    label: str
    """The last step of the id: ``identifier:nhsNumber``, ``system``."""
    depth: int
    min: int
    max: str
    types: tuple[TypeRef, ...]
    binding_strength: str | None
    value_set: str | None
    fixed: str | None
    """``fixed: …`` or ``pattern: …`` as compact JSON."""
    must_support: bool
    short: str
    changed: bool
    """Constrained by this profile's differential."""

    @property
    def cardinality(self) -> str:
        return f"{self.min}..{self.max}"


@dataclass(frozen=True, slots=True)
class SliceGroup:
    element: str
    discriminators: tuple[str, ...]
    rules: str
    ordered: bool
    slices: tuple[tuple[str, str], ...]
    """(slice name, cardinality)."""


@dataclass(frozen=True, slots=True)
class ConstraintRow:
    key: str
    severity: str
    human: str
    expression: str
    element: str
    ours: bool


@dataclass(frozen=True, slots=True)
class Example:
    name: str
    json: str


@dataclass(frozen=True, slots=True)
class ProfileDoc:
    name: str
    title: str
    url: str
    version: str
    status: str
    description: str
    type: str
    kind: str
    base: str
    elements: tuple[ElementRow, ...]
    slices: tuple[SliceGroup, ...]
    constraints: tuple[ConstraintRow, ...]
    examples: tuple[Example, ...]

    @property
    def is_extension(self) -> bool:
        return self.type == "Extension"


def short_name(url: str) -> str:
    """``https://…/StructureDefinition/MV-Patient`` -> ``MV-Patient``."""
    return url.partition("|")[0].rstrip("/").rsplit("/", 1)[-1]


def type_label(code: str) -> str:
    """``http://hl7.org/fhirpath/System.String`` (the type of ``id`` elements) -> its last step."""
    return code.rsplit("/", 1)[-1]


def load_docs(profiles_dir: Path, examples_dir: Path | None = None) -> list[ProfileDoc]:
    """Every StructureDefinition in ``profiles_dir``, by name, with its valid examples."""
    examples_dir = examples_dir or profiles_dir.parent / "examples" / "valid"
    definitions = [
        json.loads(path.read_text(encoding="utf-8")) for path in sorted(profiles_dir.glob("*.json"))
    ]
    definitions = [d for d in definitions if d.get("resourceType") == "StructureDefinition"]
    examples = _examples(examples_dir)
    return sorted(
        (read_doc(d, examples.get(d["url"], ())) for d in definitions), key=lambda d: d.name
    )


def _examples(directory: Path) -> dict[str, tuple[Example, ...]]:
    """Examples by the profile url each claims in ``meta.profile``."""
    found: dict[str, list[Example]] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else ():
        data = json.loads(path.read_text(encoding="utf-8"))
        text = json.dumps(data, indent=2, ensure_ascii=False)
        for url in (data.get("meta") or {}).get("profile") or ():
            found.setdefault(url.partition("|")[0], []).append(Example(path.stem, text))
    return {url: tuple(items) for url, items in found.items()}


def read_doc(definition: dict[str, Any], examples: Iterable[Example] = ()) -> ProfileDoc:
    snapshot = (definition.get("snapshot") or {}).get("element") or []
    differential = (definition.get("differential") or {}).get("element") or []
    changed = {e.get("id") or e.get("path") for e in differential}
    ours = {c.get("key") for e in differential for c in e.get("constraint") or () if c.get("key")}
    return ProfileDoc(
        name=short_name(definition["url"]),  # MV-Referral, as in the url (name is MVReferral)
        title=definition.get("title") or definition.get("name") or "",
        url=definition["url"],
        version=definition.get("version") or "",
        status=definition.get("status") or "",
        description=definition.get("description") or "",
        type=definition.get("type") or "",
        kind=definition.get("kind") or "",
        base=definition.get("baseDefinition") or "",
        elements=tuple(_row(e, changed) for e in snapshot),
        slices=tuple(_slices(snapshot)),
        constraints=tuple(_constraints(snapshot, ours)),
        examples=tuple(examples),
    )


def _row(element: dict[str, Any], changed: set[str]) -> ElementRow:
    eid = element.get("id") or element.get("path") or ""
    steps = eid.split(".")
    binding = element.get("binding") or {}
    return ElementRow(
        id=eid,
        label=steps[-1],
        depth=len(steps) - 1,
        min=int(element.get("min", 0)),
        max=str(element.get("max", "*")),
        types=tuple(
            TypeRef(
                t.get("code", ""),
                tuple(t.get("targetProfile") or ()),
                tuple(t.get("profile") or ()),
            )
            for t in element.get("type") or ()
        ),
        binding_strength=binding.get("strength"),
        value_set=binding.get("valueSet"),
        fixed=_fixed(element),
        must_support=bool(element.get("mustSupport")),
        short=element.get("short") or "",
        changed=eid in changed,
    )


def _fixed(element: dict[str, Any]) -> str | None:
    for prefix in ("fixed", "pattern"):
        for key, value in element.items():
            if key.startswith(prefix) and key[len(prefix) : len(prefix) + 1].isupper():
                text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
                return f"{prefix}: {text}"
    return None


def _slices(snapshot: list[dict[str, Any]]) -> Iterable[SliceGroup]:
    for element in snapshot:
        slicing = element.get("slicing")
        if not slicing:
            continue
        eid = element.get("id") or element.get("path") or ""
        members = tuple(
            (
                (e.get("sliceName") or ""),
                f"{e.get('min', 0)}..{e.get('max', '*')}",
            )
            for e in snapshot
            if e.get("sliceName") and (e.get("id") or "") == f"{eid}:{e.get('sliceName')}"
        )
        yield SliceGroup(
            element=eid,
            discriminators=tuple(
                f"{d.get('type')}: {d.get('path')}" for d in slicing.get("discriminator") or ()
            ),
            rules=slicing.get("rules") or "open",
            ordered=bool(slicing.get("ordered")),
            slices=members,
        )


def _constraints(snapshot: list[dict[str, Any]], ours: set[str]) -> Iterable[ConstraintRow]:
    seen: set[str] = set()
    for element in snapshot:
        for constraint in element.get("constraint") or ():
            key = constraint.get("key") or ""
            if key in seen or key in _NOISE_CONSTRAINTS:
                continue
            seen.add(key)
            yield ConstraintRow(
                key=key,
                severity=constraint.get("severity") or "",
                human=constraint.get("human") or "",
                expression=constraint.get("expression") or "",
                element=element.get("id") or element.get("path") or "",
                ours=key in ours,
            )
