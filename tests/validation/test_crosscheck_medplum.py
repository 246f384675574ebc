"""Cross-check: our validator and @medplum/core 4.5.2 agree on the profile examples and mutants.

Medplum's StructureDefinition validator (run through Node, `medplum/validate.mjs`) is an
independent implementation of snapshot validation: cardinality, fixed and pattern values,
slices, types, FHIRPath invariants. Each case is every example under `profiles/examples/`
plus mutants generated from the valid ones (drop a required element, break a slice's fixed
system, point a restricted reference at the wrong type, put a code outside a required binding,
drop a required extension). The expected verdict is known by construction; ours must match it
always, Medplum's must match it except for the gaps listed in MEDPLUM_GAPS, each with its
reason. The list is exact: a gap that Medplum closes fails the test until it is removed.

Medplum 4.5.2 cannot parse a slice inside a slice (it files the nested extension slice of
MV-Patient's nhsNumber slice as a second identifier slice), so the profiles are handed to it
without nested-slice elements (see `_for_medplum`). Skipped only when `node` is absent.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from app.terminology.local import LocalTerminology
from app.validation.profiles import ProfileRegistry
from app.validation.validator import Validator

REPO: Final = Path(__file__).resolve().parents[2]
MEDPLUM_DIR: Final = Path(__file__).resolve().parent / "medplum"
EXAMPLES: Final = REPO / "profiles" / "examples"
BUILD: Final = REPO / "profiles" / "build"
OUR_VS: Final = "https://fhir.southlondon-mitral.nhs.uk/ValueSet/"
R4_SD: Final = "http://hl7.org/fhir/StructureDefinition/"

GAP_REASONS: Final = {
    "binding": "Medplum 4.5.2 does not check codes against value sets (documented limitation)",
    "reference": "Medplum does not report a reference to a type the profile excludes as an error",
    "absent-slice": "Medplum counts slices only when the sliced array is present: a required "
    "extension slice with no extension at all passes",
    "backbone": "Medplum checks BackboneElement children (Procedure.performer.onBehalfOf) "
    "against the base type, not the profile's tightened cardinality",
}
INVALID_EXAMPLE_GAPS: Final = {
    "MV-Patient-bad-verification-code.json": "binding",
    "MV-Service-characteristic-outside-binding.json": "binding",
    "MV-Referral-code-outside-binding.json": "binding",
    "MV-InterventionRequest-code-outside-binding.json": "binding",
    "MV-Procedure-snomed-outside-binding.json": "binding",
    "MV-Pathway-stage-outside-binding.json": "binding",
    "MV-Service-provider-not-organization.json": "reference",
    "MV-Referral-subject-group.json": "reference",
    "MV-Pathway-no-current-stage.json": "absent-slice",
    "MV-Procedure-no-on-behalf-of.json": "backbone",
}


# Where our validator cannot reach the expected verdict yet, and why (asserted exactly).
OUR_PENDING: Final[dict[str, str]] = {}


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _profiles() -> dict[str, dict[str, Any]]:
    return {sd["url"]: sd for sd in map(_json, sorted(BUILD.glob("StructureDefinition-*.json")))}


def _for_medplum(sd: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(sd)
    out["snapshot"]["element"] = [e for e in sd["snapshot"]["element"] if e["id"].count(":") < 2]
    return out


class Case:
    def __init__(self, name: str, resource: dict[str, Any], invalid: bool, gap: str | None):
        self.name, self.resource, self.invalid, self.gap = name, resource, invalid, gap
        self.profile = resource["meta"]["profile"][0]


def _top_level(sd: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for el in sd["snapshot"]["element"][1:]:
        if el["id"].count(".") == 1 and ":" not in el["id"]:
            yield el


def _keys_of(resource: dict[str, Any], el: dict[str, Any]) -> list[str]:
    name = el["path"].split(".", 1)[1]
    if name.endswith("[x]"):
        return [k for k in resource if k.startswith(name[:-3]) and k[len(name) - 3 :][:1].isupper()]
    return [name] if name in resource else []


def _mutants(name: str, resource: dict[str, Any], sd: dict[str, Any]) -> Iterator[Case]:
    stem = name.removesuffix(".json")
    for el in _top_level(sd):
        keys = _keys_of(resource, el)
        if el["min"] >= 1 and keys:  # drop a required element
            mutant = {k: v for k, v in resource.items() if k not in keys}
            yield Case(f"{stem}~drop-{keys[0]}", mutant, True, None)
        types = el.get("type", [])
        targets = [t for ty in types for t in ty.get("targetProfile", [])]
        if keys and types[0]["code"] == "Reference" and R4_SD + "Resource" not in targets:
            allowed = [t.rsplit("/", 1)[-1] for t in targets]
            if "Group" not in allowed:
                mutant = copy.deepcopy(resource)
                wrong = {"reference": "Group/mv-cohort-2026"}
                mutant[keys[0]] = [wrong] if isinstance(mutant[keys[0]], list) else wrong
                yield Case(f"{stem}~wrong-reference-{keys[0]}", mutant, True, "reference")
        binding = el.get("binding", {})
        if (
            keys
            and binding.get("strength") == "required"
            and binding.get("valueSet", "").startswith(OUR_VS)
        ):
            mutant = copy.deepcopy(resource)
            value = mutant[keys[0]]
            concept = value[0] if isinstance(value, list) else value
            concept["coding"][0]["code"] = "not-in-the-value-set"
            yield Case(f"{stem}~bad-code-{keys[0]}", mutant, True, "binding")
    yield from _slice_mutants(stem, resource, sd)


def _slice_mutants(stem: str, resource: dict[str, Any], sd: dict[str, Any]) -> Iterator[Case]:
    by_id = {el["id"]: el for el in sd["snapshot"]["element"]}
    for el in sd["snapshot"]["element"]:
        fixed = el.get("fixedUri")
        slice_id = el["id"].rsplit(".", 1)[0]
        if not (fixed and el["id"].endswith(".system") and ":" in slice_id):
            continue
        if by_id[slice_id]["min"] < 1 or slice_id.count(":") != 1:
            continue
        mutant = copy.deepcopy(resource)
        hits = [item for item in _items(mutant, slice_id) if item.get("system") == fixed]
        if hits:
            for item in hits:
                item["system"] = fixed + "-broken"
            yield Case(f"{stem}~break-slice-{slice_id.split(':')[1]}", mutant, True, None)
    if any(el.get("sliceName") and el["min"] >= 1 for el in _extension_slices(sd)):
        mutant = {k: v for k, v in resource.items() if k != "extension"}
        yield Case(f"{stem}~drop-required-extension", mutant, True, "absent-slice")


def _items(resource: dict[str, Any], slice_id: str) -> list[dict[str, Any]]:
    """The entries of the sliced array (``Procedure.code.coding:snomed`` -> code.coding)."""
    node: Any = resource
    for step in slice_id.split(":", maxsplit=1)[0].split(".")[1:]:
        node = node.get(step, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, list) else []


def _extension_slices(sd: dict[str, Any]) -> Iterator[dict[str, Any]]:
    root = sd["type"] + ".extension:"
    for el in sd["snapshot"]["element"]:
        if el["id"].startswith(root) and el["id"].count(".") == 1:
            yield el


def _cases() -> list[Case]:
    profiles = _profiles()
    cases = []
    for path in sorted((EXAMPLES / "valid").glob("*.json")):
        resource = _json(path)
        cases.append(Case(f"valid/{path.name}", resource, False, None))
        cases.extend(_mutants(path.name, resource, profiles[resource["meta"]["profile"][0]]))
    for path in sorted((EXAMPLES / "invalid").glob("*.json")):
        if path.name != "expected.json":
            gap = INVALID_EXAMPLE_GAPS.get(path.name)
            cases.append(Case(f"invalid/{path.name}", _json(path), True, gap))
    return cases


def _ensure_medplum() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (MEDPLUM_DIR / "node_modules" / "@medplum" / "core" / "package.json").is_file():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=MEDPLUM_DIR,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return node


@pytest.fixture(scope="module")
def medplum_issues() -> dict[str, list[dict[str, str]]]:
    node = _ensure_medplum()
    payload = {
        "profiles": [_for_medplum(sd) for sd in _profiles().values()],
        "cases": [{"name": c.name, "profile": c.profile, "resource": c.resource} for c in _cases()],
    }
    result = subprocess.run(
        [node, str(MEDPLUM_DIR / "validate.mjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    issues: dict[str, list[dict[str, str]]] = json.loads(result.stdout)
    return issues


def _rejects(issues: list[dict[str, str]]) -> bool:
    return any(i["severity"] in ("error", "fatal") for i in issues)


def test_the_mutants_cover_every_kind() -> None:
    names = [c.name for c in _cases()]
    for kind in (
        "~drop-",
        "~wrong-reference-",
        "~bad-code-",
        "~break-slice-",
        "~drop-required-ext",
    ):
        assert any(kind in n for n in names), kind
    assert len(names) > 60


def test_medplum_agrees_except_for_its_documented_gaps(
    medplum_issues: dict[str, list[dict[str, str]]],
) -> None:
    assert all(i["severity"] != "fatal" for issues in medplum_issues.values() for i in issues), (
        "the Node script failed on a case"
    )
    disagree = {c.name: c.gap for c in _cases() if _rejects(medplum_issues[c.name]) != c.invalid}
    undocumented = {name: gap for name, gap in disagree.items() if gap is None}
    assert not undocumented, f"Medplum disagrees, reason unknown: {sorted(undocumented)}"
    expected_gaps = {c.name for c in _cases() if c.gap}
    closed = sorted(expected_gaps - set(disagree))
    assert not closed, f"Medplum now agrees on {closed}: drop them from the gap list"


@pytest.fixture(scope="module")
def validator() -> Validator:
    terminology = LocalTerminology.from_directory(REPO / "terminology")
    return Validator(ProfileRegistry.from_directory(BUILD), terminology)


async def test_our_validator_matches_every_expected_verdict(validator: Validator) -> None:
    wrong = {}
    for case in _cases():
        issues = await validator.validate(copy.deepcopy(case.resource))
        rejects = any(i.severity in ("error", "fatal") for i in issues)
        if rejects != case.invalid:
            wrong[case.name] = [i.diagnostics for i in issues][:3]
    unexplained = {name: why for name, why in wrong.items() if name not in OUR_PENDING}
    assert not unexplained, unexplained
    assert set(wrong) == set(OUR_PENDING), "a pending case now agrees: drop it from OUR_PENDING"
