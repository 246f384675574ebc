"""Generate a StructureDefinition snapshot from a differential and the R4 base snapshots.

The walk follows the HL7 snapshot generator's shape: start from the base type's snapshot (in
FHIR element order), then apply the differential elements in order. An element the base
snapshot does not list yet is created on demand:

* a child of a complex datatype (``Patient.identifier.system``): the datatype's snapshot
  (``Identifier``) is unfolded under the parent, ids and paths re-rooted, ``base`` kept;
* a slice (``Patient.identifier:nhsNumber``): a copy of the sliced element, inserted after the
  sliced element's subtree and earlier slices, with ``min`` 0 until the differential says more;
  its children come from the sliced element's (already constrained) children or the datatype;
* a choice rename (``Procedure.performedDateTime``): applied to ``Procedure.performed[x]`` as a
  type restriction to ``dateTime``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from profile_build.elements import R4, BuildError, ElementMerger, type_suffix

SEGMENT = re.compile(r"^([A-Za-z][A-Za-z0-9]*(?:\[x\])?)(?::([A-Za-z0-9][A-Za-z0-9_-]*))?$")
EXTENSION_NAMES = frozenset({"extension", "modifierExtension"})
EXTENSION_PATHS = (".extension", ".modifierExtension")
EXTENSION_SLICING = {
    "discriminator": [{"type": "value", "path": "url"}],
    "description": "Extensions are always sliced by (at least) url",
    "rules": "open",
}
REQUIRED_SD_KEYS = (
    "url", "version", "name", "status", "kind", "abstract", "type",
    "baseDefinition", "derivation", "differential",
)  # fmt: skip


def split_id(element_id: str) -> list[tuple[str, str | None]]:
    parts = []
    for seg in element_id.split("."):
        match = SEGMENT.match(seg)
        if match is None:
            raise ValueError(seg)
        parts.append((match.group(1), match.group(2)))
    return parts


def join_id(parts: list[tuple[str, str | None]]) -> str:
    return ".".join(f"{n}:{s}" if s else n for n, s in parts)


class SnapshotBuilder:
    """One profile's working snapshot: a list of element dicts in FHIR order."""

    def __init__(
        self, where: str, sd: dict[str, Any], bases: dict[str, dict[str, Any]],
        known_types: dict[str, str], extensions: dict[str, dict[str, Any]],
    ) -> None:  # fmt: skip
        self.where = where
        self.extensions = extensions
        self.sd = sd
        self.bases = bases
        self.merger = ElementMerger(where, sd.get("url", "?"), known_types)
        base = self._base_sd(sd["type"], sd["type"])
        self.elements: list[dict[str, Any]] = copy.deepcopy(base["snapshot"]["element"])

    def _base_sd(self, type_code: str, element_id: str) -> dict[str, Any]:
        base = self.bases.get(type_code)
        if base is None:
            raise self.merger.fail(
                element_id,
                f"base StructureDefinition {type_code} is not vendored in profiles/base "
                "(add it to VENDORED_TYPES and run --vendor)",
            )
        return base

    def index(self, element_id: str) -> int | None:
        for i, el in enumerate(self.elements):
            if el["id"] == element_id:
                return i
        return None

    def subtree_end(self, i: int) -> int:
        """Index after element i's children and slices (``X.child``, ``X:slice...``)."""
        prefix = self.elements[i]["id"]
        j = i + 1
        while j < len(self.elements) and self.elements[j]["id"].startswith(
            (prefix + ".", prefix + ":")
        ):
            j += 1
        return j

    def ensure(self, element_id: str) -> int:
        found = self.index(element_id)
        if found is not None:
            return found
        try:
            parts = split_id(element_id)
        except ValueError as exc:
            raise self.merger.fail(element_id, f"malformed id segment {exc}") from exc
        if len(parts) < 2:
            raise self.merger.fail(element_id, f"not an element of {self.sd['type']}")
        name, slice_name = parts[-1]
        if slice_name is not None:
            return self._add_slice(element_id, join_id([*parts[:-1], (name, None)]), slice_name)
        parent = self.ensure(join_id(parts[:-1]))
        self._unfold(parent, element_id)
        found = self.index(element_id)
        if found is None:
            raise self.merger.fail(element_id, f"no such element in the base {self.sd['type']}")
        return found

    def _add_slice(self, element_id: str, sliced_id: str, slice_name: str) -> int:
        sliced = self.ensure(sliced_id)
        base = self.elements[sliced]
        if "slicing" not in base and sliced_id.rsplit(".", 1)[-1] in EXTENSION_NAMES:
            base["slicing"] = copy.deepcopy(EXTENSION_SLICING)  # implicit, as HL7 does
        if "slicing" not in base:
            raise self.merger.fail(element_id, f"slice of {sliced_id}, which has no slicing")
        element = copy.deepcopy(base)
        element.pop("slicing")
        element.update({"id": element_id, "sliceName": slice_name, "min": 0})
        position = self.subtree_end(sliced)
        self.elements.insert(position, element)
        return position

    def _unfold(self, parent: int, wanted: str) -> None:
        el = self.elements[parent]
        pid = el["id"]
        if any(e["id"].startswith(pid + ".") for e in self.elements):
            return  # children already present
        children = self._children_from_sliced(el) or self._children_from_type(el, wanted)
        self.elements[parent + 1 : parent + 1] = children

    def _children_from_sliced(self, el: dict[str, Any]) -> list[dict[str, Any]]:
        if "sliceName" not in el:
            return []
        sliced_id = el["id"].rsplit(":", 1)[0]
        prefix = sliced_id + "."
        return [
            {**copy.deepcopy(e), "id": el["id"] + "." + e["id"][len(prefix) :]}
            for e in self.elements
            if e["id"].startswith(prefix)
        ]

    def _children_from_type(self, el: dict[str, Any], wanted: str) -> list[dict[str, Any]]:
        codes = [t["code"] for t in el.get("type", [])]
        if len(codes) != 1 or not codes[0][:1].isupper():
            raise self.merger.fail(
                wanted, f"cannot unfold {el['id']} with types {codes}: restrict it to one type"
            )
        datatype = self._base_sd(codes[0], wanted)
        root = datatype["snapshot"]["element"][0]["path"]
        children = []
        for e in datatype["snapshot"]["element"][1:]:
            child = copy.deepcopy(e)
            child["id"] = el["id"] + child["id"][len(root) :]
            child["path"] = el["path"] + child["path"][len(root) :]
            children.append(child)
        return children

    def resolve_choice_rename(self, diff: dict[str, Any]) -> dict[str, Any]:
        """`Procedure.performedDateTime` -> `Procedure.performed[x]` restricted to dateTime."""
        element_id = diff["id"]
        if self.index(element_id) is not None or "[x]" in element_id or ":" in element_id:
            return diff
        depth = element_id.count(".")
        for el in self.elements:
            stem = el["id"].removesuffix("[x]")
            suffix = element_id[len(stem) :]
            if (
                el["id"].endswith("[x]")
                and el["id"].count(".") == depth
                and element_id.startswith(stem)
                and suffix[:1].isupper()
            ):
                codes = {type_suffix(t["code"]): t["code"] for t in el.get("type", [])}
                if suffix not in codes:
                    raise self.merger.fail(element_id, f"{suffix} is not a type of {el['id']}")
                renamed = {**diff, "id": el["id"], "path": el["path"]}
                renamed.setdefault("type", [{"code": codes[suffix]}])
                return renamed
        return diff

    def apply(self, diff: dict[str, Any]) -> None:
        if not isinstance(diff.get("id"), str) or not isinstance(diff.get("path"), str):
            raise self.merger.fail(str(diff.get("id") or diff.get("path")), "needs id and path")
        diff = self.resolve_choice_rename(diff)
        i = self.ensure(diff["id"])
        snap = self.elements[i]
        if diff["path"] != snap["path"]:
            raise self.merger.fail(diff["id"], f"path {diff['path']} should be {snap['path']}")
        if diff.get("sliceName", snap.get("sliceName")) != snap.get("sliceName"):
            raise self.merger.fail(diff["id"], "sliceName does not match the id")
        self.merger.merge(snap, diff)
        self._unfold_extension(i)

    def _unfold_extension(self, i: int) -> None:
        """Give an extension slice its children from the extension's own snapshot.

        The slice then carries ``url`` fixed to the extension's canonical, so a validator that
        matches slices by the ``url`` discriminator (HL7's, Medplum's) finds the value there.
        """
        slice_el = self.elements[i]
        profiles = [p for t in slice_el.get("type", []) for p in t.get("profile", [])]
        if not (slice_el.get("sliceName") and slice_el["path"].endswith(EXTENSION_PATHS)):
            return
        if len(profiles) != 1 or any(
            e["id"].startswith(slice_el["id"] + ".") for e in self.elements
        ):
            return
        extension = self.extensions.get(profiles[0])
        if extension is None:
            raise self.merger.fail(slice_el["id"], f"unknown extension {profiles[0]}")
        children = []
        for e in extension["snapshot"]["element"][1:]:
            child = copy.deepcopy(e)
            child["id"] = slice_el["id"] + child["id"][len("Extension") :]
            child["path"] = slice_el["path"] + child["path"][len("Extension") :]
            children.append(child)
        self.elements[i + 1 : i + 1] = children


def check_header(where: str, sd: dict[str, Any]) -> None:
    missing = [k for k in REQUIRED_SD_KEYS if k not in sd]
    if sd.get("resourceType") != "StructureDefinition" or missing:
        raise BuildError(f"{where}: not a StructureDefinition with {', '.join(missing)}")
    if sd["baseDefinition"] != R4 + sd["type"]:
        raise BuildError(f"{where}: baseDefinition must be the R4 core {R4}{sd['type']}")
    if sd["derivation"] != "constraint":
        raise BuildError(f"{where}: derivation must be constraint")


def build_snapshot(
    where: str,
    sd: dict[str, Any],
    bases: dict[str, dict[str, Any]],
    known: dict[str, str],
    extensions: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Return the full StructureDefinition (snapshot + the differential as authored).

    ``extensions`` maps extension url -> built extension StructureDefinition (build the
    extensions first); extension slices take their children from it.
    """
    check_header(where, sd)
    builder = SnapshotBuilder(where, sd, bases, known, extensions)
    for diff in sd["differential"].get("element", []):
        builder.apply(diff)
    out: dict[str, Any] = {}
    for key, value in sd.items():
        if key == "differential":
            out.setdefault("fhirVersion", "4.0.1")
            out["snapshot"] = {"element": builder.elements}
        out[key] = value
    return out
