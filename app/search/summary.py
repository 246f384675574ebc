"""``_summary`` and ``_elements``: returning a subset of each resource (R4 search.html#summary).

* ``_summary=true``: the elements marked ``isSummary`` in the base definition, with the
  modifiers and mandatory elements (see ``scripts/vendor_structure_definitions.py``), at the
  top level and inside backbone elements (Observation.component keeps code and value[x]);
* ``_summary=text``: ``text``, ``id``, ``meta`` and the top-level mandatory elements;
* ``_summary=data``: everything but ``text``;
* ``_summary=false``: everything (no filter);
* ``_elements=a,b``: the listed top-level elements, with ``id``, ``meta`` and the mandatory
  elements ("Servers SHOULD always return mandatory elements whether they are requested or
  not"). A name may be written ``Type.element`` (kept only on resources of that type) and a
  choice element by its base name (``value`` keeps ``valueQuantity``). Unknown names match
  nothing.

When both are given an element must pass both. A primitive's extension sibling (``_birthDate``)
follows its element. A resource that lost anything is tagged SUBSETTED, so that it is not
mistaken for (or written back as) the whole resource. Resources are parsed and written with
``fhir_json`` so decimals keep their text; with no filter the stored bytes are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Final

from app.errors import InvalidRequest
from app.model import fhir_json
from app.validation.definitions import load_definitions

SUMMARY_MODES: Final = ("true", "text", "data", "count", "false")
SUBSETTED: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
_ALWAYS: Final = frozenset({"resourceType", "id", "meta"})


def parse_summary(value: str, *, search: bool = True) -> str:
    """A ``_summary`` value; 400 naming ``_summary`` when it is not one R4 defines."""
    allowed = SUMMARY_MODES if search else tuple(m for m in SUMMARY_MODES if m != "count")
    if value not in allowed:
        raise InvalidRequest(
            f"_summary must be one of {', '.join(allowed)}, got '{value}'",
            expression=("_summary",),
        )
    return value


def parse_elements(value: str) -> tuple[str, ...]:
    """The names of ``_elements=a,b`` (blank items dropped)."""
    return tuple(name for name in (item.strip() for item in value.split(",")) if name)


def read_subset(params: list[tuple[str, str]]) -> Subset | None:
    """The ``_summary``/``_elements`` of a read (a GET or a Bundle entry's GET), or None.

    Checked before any storage read, so a bad value is a 400 whether the resource exists
    or not. The last ``_summary`` wins; ``_elements`` lists are merged.
    """
    mode, asked = None, False
    names: list[str] = []
    for name, value in params:
        if name == "_summary":
            mode, asked = parse_summary(value, search=False), True
        elif name == "_elements":
            names += parse_elements(value)
            asked = True
    return Subset(mode, tuple(names) or None) if asked else None


@cache
def _mandatory(res_type: str) -> frozenset[str]:
    typedef = load_definitions().types.get(res_type)
    if typedef is None:
        return frozenset()
    return frozenset(name for name, el in typedef.elements.items() if el.min >= 1)


@cache
def _choice_base(res_type: str, prop: str) -> str | None:
    typedef = load_definitions().types.get(res_type)
    element = typedef.elements.get(prop) if typedef else None
    return element.choice if element else None


def _backbone_summary(owner: str, prop: str, value: Any) -> Any:
    """``value`` of ``owner.prop`` with only the summary children of a backbone element
    (recursively); the same object when nothing goes, None when nothing is left."""
    name = prop[1:] if prop.startswith("_") else prop
    typedef = load_definitions().types.get(owner)
    element = typedef.elements.get(name) if typedef else None
    backbone = element.type_name if element else ""
    summary = load_definitions().summary.get(backbone)
    if summary is None or "." not in backbone:
        return value
    if isinstance(value, list):
        items = [_summary_object(backbone, summary, v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        kept_items = [i for i in items if i is not None]
        return kept_items or None
    return _summary_object(backbone, summary, value)


def _summary_object(backbone: str, summary: frozenset[str], value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, child in value.items():
        if (key[1:] if key.startswith("_") else key) not in summary:
            continue
        inner = _backbone_summary(backbone, key, child)
        if inner is not None:
            out[key] = inner
    if len(out) == len(value) and all(out[k] is value[k] for k in out):
        return value
    return out or None


@dataclass(frozen=True, slots=True)
class Subset:
    """What to keep of each resource; ``active`` is False when everything is kept."""

    summary: str | None = None
    """``true``, ``text`` or ``data`` (``false`` and ``count`` filter nothing here)."""
    elements: tuple[str, ...] | None = None

    @property
    def active(self) -> bool:
        return self.summary in ("true", "text", "data") or self.elements is not None

    def for_included(self) -> Subset:
        """Included resources: ``_elements`` "does not apply to included resources"."""
        return replace(self, elements=None)

    def _keeps_summary(self, res_type: str, prop: str) -> bool:
        if self.summary == "true":
            return prop in load_definitions().summary.get(res_type, _ALWAYS)
        if self.summary == "text":
            return prop == "text" or prop in _ALWAYS or prop in _mandatory(res_type)
        if self.summary == "data":
            return prop != "text"
        return True

    def _keeps_element(self, res_type: str, prop: str) -> bool:
        if self.elements is None or prop in _ALWAYS or prop in _mandatory(res_type):
            return True
        base = _choice_base(res_type, prop)
        for name in self.elements:
            head, dot, tail = name.partition(".")
            if dot and head != res_type:
                continue
            wanted = tail if dot else name
            if wanted in (prop, base):
                return True
        return False

    def keeps(self, res_type: str, prop: str) -> bool:
        """Whether top-level property ``prop`` of a ``res_type`` stays."""
        if prop == "resourceType":
            return True
        name = prop[1:] if prop.startswith("_") else prop
        return self._keeps_summary(res_type, name) and self._keeps_element(res_type, name)

    def filter(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The kept part of ``resource`` (tagged SUBSETTED when anything went); in place
        when nothing went."""
        res_type = str(resource.get("resourceType", ""))
        kept = {k: v for k, v in resource.items() if self.keeps(res_type, k)}
        changed = len(kept) != len(resource)
        if self.summary == "true":
            for key, value in list(kept.items()):
                inner = _backbone_summary(res_type, key, value)
                if inner is not value:
                    changed = True
                    if inner is None:
                        del kept[key]
                    else:
                        kept[key] = inner
        if not changed:
            return resource
        meta = dict(kept.get("meta") or {})
        tags = list(meta.get("tag") or [])
        if not any(
            t.get("system") == SUBSETTED["system"] and t.get("code") == SUBSETTED["code"]
            for t in tags
            if isinstance(t, dict)
        ):
            tags.append(dict(SUBSETTED))
        meta["tag"] = tags
        out: dict[str, Any] = {}
        for key, value in kept.items():
            out[key] = meta if key == "meta" else value
            if key == "id" and "meta" not in kept:
                out["meta"] = meta
        if "meta" not in out:
            out["meta"] = meta
        return out

    def apply(self, content: bytes) -> bytes:
        """``content`` (stored resource JSON) filtered; the same bytes when nothing goes."""
        if not self.active:
            return content
        resource = fhir_json.loads(content)
        kept = self.filter(resource)
        return content if kept is resource else fhir_json.dumps(kept)
