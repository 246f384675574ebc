"""Merge one differential ElementDefinition onto its snapshot element.

The rules are the HL7 ones a constraint profile must follow: cardinality and types may only
narrow, a required binding stays required, constraints add up (each tagged with the profile
that added it). Anything the generator does not understand is an error rather than being
copied blindly, so a typo in a differential never yields a silently wrong snapshot.
"""

from __future__ import annotations

import copy
from typing import Any

R4 = "http://hl7.org/fhir/StructureDefinition/"
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
STRENGTHS = ("example", "preferred", "extensible", "required")
DISCRIMINATORS = frozenset({"value", "pattern", "type", "exists", "profile"})
SLICING_RULES = frozenset({"closed", "open", "openAtEnd"})
TEXT_KEYS = frozenset(
    {"short", "definition", "comment", "requirements", "label", "meaningWhenMissing"}
)
LIST_KEYS = frozenset({"alias", "condition", "example", "mapping"})
STRUCTURE_KEYS = frozenset({"id", "path", "sliceName"})


class BuildError(Exception):
    """A differential that cannot be applied; the message names the file and element id."""


def max_value(text: str) -> float:
    return float("inf") if text == "*" else float(int(text))


def type_suffix(code: str) -> str:
    """`uri` -> `Uri`, `CodeableConcept` -> `CodeableConcept`: the fixed[x] key suffix."""
    return code[:1].upper() + code[1:]


def type_code(item: dict[str, Any]) -> str:
    """The FHIR type of a type entry; `id`/`url` elements carry it in an extension."""
    for ext in item.get("extension", []):
        if ext.get("url") == FHIR_TYPE_EXT:
            return str(ext.get("valueUrl") or ext.get("valueUri"))
    return str(item["code"])


class ElementMerger:
    """Applies differential elements of one profile; `known_types` maps profile url -> type."""

    def __init__(self, where: str, profile_url: str, known_types: dict[str, str]) -> None:
        self.where = where
        self.profile_url = profile_url
        self.known_types = known_types

    def fail(self, element_id: str, message: str) -> BuildError:
        return BuildError(f"{self.where}: element {element_id}: {message}")

    def merge(self, snap: dict[str, Any], diff: dict[str, Any]) -> None:
        eid = snap["id"]
        for key, value in diff.items():
            if key in STRUCTURE_KEYS or key in ("min", "max"):
                continue  # min and max are handled together below
            if key in TEXT_KEYS or key in LIST_KEYS or key in ("mustSupport", "maxLength"):
                self._documentation(snap, key, value)
            elif key == "type":
                snap["type"] = self._types(eid, snap.get("type", []), value)
            elif key.startswith(("fixed", "pattern")):
                self._fixed(eid, snap, key, value)
            elif key == "binding":
                snap["binding"] = self._binding(eid, snap.get("binding"), value)
            elif key == "constraint":
                snap["constraint"] = self._constraints(eid, snap.get("constraint", []), value)
            elif key == "slicing":
                snap["slicing"] = self._slicing(eid, value)
            else:
                raise self.fail(eid, f"differential key {key!r} is not supported")
        self._cardinality(eid, snap, diff)

    @staticmethod
    def _documentation(snap: dict[str, Any], key: str, value: Any) -> None:
        if key in LIST_KEYS:
            snap[key] = [*snap.get(key, []), *copy.deepcopy(value)]
        else:
            snap[key] = bool(value) if key == "mustSupport" else value

    def _cardinality(self, eid: str, snap: dict[str, Any], diff: dict[str, Any]) -> None:
        base_min, base_max = snap["min"], snap["max"]
        new_min = diff.get("min", base_min)
        new_max = diff.get("max", base_max)
        if not isinstance(new_min, int) or new_min < 0:
            raise self.fail(eid, f"min {new_min!r} is not a non-negative integer")
        if not isinstance(new_max, str) or not (new_max == "*" or new_max.isdigit()):
            raise self.fail(eid, f"max {new_max!r} is not '*' or a number string")
        if new_min < base_min and "sliceName" not in snap:
            raise self.fail(eid, f"min {new_min} loosens the base min {base_min}")
        if max_value(new_max) > max_value(base_max):
            raise self.fail(eid, f"max {new_max} loosens the base max {base_max}")
        if new_min > max_value(new_max):
            raise self.fail(eid, f"min {new_min} is greater than max {new_max}")
        snap["min"], snap["max"] = new_min, new_max

    def _types(self, eid: str, base: list[dict[str, Any]], wanted: Any) -> list[dict[str, Any]]:
        if not isinstance(wanted, list) or not wanted:
            raise self.fail(eid, "type must be a non-empty list")
        by_code = {t["code"]: t for t in base}
        result = []
        for item in wanted:
            code = item.get("code")
            if code not in by_code:
                raise self.fail(
                    eid, f"type {code!r} is not allowed by the base ({sorted(by_code)})"
                )
            merged = copy.deepcopy(by_code[code])
            if "targetProfile" in item:
                self._check_targets(eid, by_code[code].get("targetProfile", []), item)
                merged["targetProfile"] = list(item["targetProfile"])
            if "profile" in item:
                merged["profile"] = list(item["profile"])
            unknown = set(item) - {"code", "targetProfile", "profile", "aggregation"}
            if unknown:
                raise self.fail(eid, f"type keys {sorted(unknown)} are not supported")
            result.append(merged)
        return result

    def _check_targets(self, eid: str, base: list[str], item: dict[str, Any]) -> None:
        if R4 + "Resource" in base:
            return
        for target in item["targetProfile"]:
            target_type = self.known_types.get(target)
            core = R4 + target_type if target_type else target
            if core not in base:
                allowed = ", ".join(t.removeprefix(R4) for t in base)
                raise self.fail(eid, f"targetProfile {target} is not one of the base's: {allowed}")

    def _fixed(self, eid: str, snap: dict[str, Any], key: str, value: Any) -> None:
        kind = "fixed" if key.startswith("fixed") else "pattern"
        suffix = key[len(kind) :]
        codes = {type_suffix(type_code(t)) for t in snap.get("type", [])}
        if suffix not in codes:
            raise self.fail(eid, f"{key} does not match the element's types {sorted(codes)}")
        existing = [k for k in snap if k.startswith(("fixed", "pattern"))]
        if existing and existing != [key]:
            raise self.fail(eid, f"{key} conflicts with the base's {existing[0]}")
        if existing and snap[key] != value:
            raise self.fail(eid, f"{key} changes the value the base already fixes")
        snap[key] = copy.deepcopy(value)

    def _binding(self, eid: str, base: dict[str, Any] | None, new: Any) -> dict[str, Any]:
        strength = new.get("strength") if isinstance(new, dict) else None
        if strength not in STRENGTHS:
            raise self.fail(eid, f"binding strength {strength!r} is not one of {STRENGTHS}")
        if strength != "example" and not new.get("valueSet"):
            raise self.fail(eid, "a binding needs a valueSet")
        if base and base.get("strength") == "required" and strength != "required":
            raise self.fail(eid, f"binding {strength} loosens the base's required binding")
        return copy.deepcopy(new)

    def _constraints(self, eid: str, base: list[dict[str, Any]], new: Any) -> list[dict[str, Any]]:
        keys = {c["key"] for c in base}
        result = list(base)
        for item in new:
            for needed in ("key", "severity", "human", "expression"):
                if not item.get(needed):
                    raise self.fail(eid, f"constraint without {needed}")
            if item["key"] in keys:
                raise self.fail(eid, f"constraint key {item['key']} is already defined")
            keys.add(item["key"])
            result.append({**copy.deepcopy(item), "source": self.profile_url})
        return result

    def _slicing(self, eid: str, slicing: Any) -> dict[str, Any]:
        rules = slicing.get("rules") if isinstance(slicing, dict) else None
        if rules not in SLICING_RULES:
            raise self.fail(eid, f"slicing rules {rules!r} is not one of {sorted(SLICING_RULES)}")
        for disc in slicing.get("discriminator", []):
            if disc.get("type") not in DISCRIMINATORS or not disc.get("path"):
                raise self.fail(eid, f"bad slicing discriminator {disc}")
        return copy.deepcopy(slicing)
