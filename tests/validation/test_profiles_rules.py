"""The hand-compiled profile invariants agree with fhirpathpy, and are the ones in use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fhirpathpy
import orjson
import pytest
from fhirpathpy.models import models

from app.validation.definitions import load_definitions
from app.validation.profile_rules import PROFILE_RULES
from app.validation.profiles import ProfileRegistry
from app.validation.walk import Node

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
BUILD = PROFILES / "build"
EXAMPLES = sorted((PROFILES / "examples").glob("*/MV-*.json"))
NHS = "https://fhir.nhs.uk/Id/nhs-number"
UCUM = "http://unitsofmeasure.org"
SCT = "http://snomed.info/sct"
OPCS = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"

CASES: dict[str, list[Any]] = {
    "mv-nhs-1": [
        {"system": NHS, "value": "9434765919"},
        {"system": NHS, "value": "9000000009"},
        {"system": NHS, "value": "9434765918"},
        {"system": NHS, "value": "943476591"},
        {"system": NHS, "value": "94347659190"},
        {"system": NHS, "value": "943476591X"},
        {"system": NHS, "value": "1000000010"},  # remainder 1: check digit 10, never valid
        {"system": NHS},
        {"value": "9434765918"},
        {"system": "https://fhir.kings.nhs.uk/Id/mrn", "value": "K1"},
    ],
    "mv-ref-1": [
        {"resourceType": "ServiceRequest"},
        {"resourceType": "ServiceRequest", "identifier": [{"value": "x"}]},
        {
            "resourceType": "ServiceRequest",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/UBRN"}],
        },
        {
            "resourceType": "ServiceRequest",
            "identifier": [
                {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"},
                {"system": "https://fhir.st-georges.nhs.uk/Id/referral", "value": "G-1"},
            ],
        },
        {
            "resourceType": "ServiceRequest",
            "identifier": [{"system": "https://fhir.kings.nhs.uk/Id/referrals", "value": "K"}],
        },
        {
            "resourceType": "ServiceRequest",
            "identifier": [{"system": "https://fhirXkings.nhs.uk/Id/referral", "value": "K"}],
        },
    ],
    "mv-echo-1": [
        {"resourceType": "Observation"},
        {
            "resourceType": "Observation",
            "valueQuantity": {"value": 0.4, "system": UCUM, "code": "cm2"},
        },
        {"resourceType": "Observation", "valueQuantity": {"value": 0.4, "code": "cm2"}},
        {"resourceType": "Observation", "valueQuantity": {"value": 0.4, "unit": "cm2"}},
        {"resourceType": "Observation", "valueQuantity": {"system": UCUM, "code": "cm2"}},
        {
            "resourceType": "Observation",
            "valueQuantity": {"value": 0.4, "system": "http://example.org/units", "code": "cm2"},
        },
        {"resourceType": "Observation", "valueString": "severe"},
    ],
    "mv-echo-2": [
        {"resourceType": "Observation"},
        {"resourceType": "Observation", "code": {"coding": [{"system": SCT, "code": "48724000"}]}},
        {
            "resourceType": "Observation",
            "code": {"coding": [{"system": SCT, "code": "48724000"}]},
            "valueCodeableConcept": {"coding": [{"system": SCT, "code": "24484000"}]},
        },
        {
            "resourceType": "Observation",
            "code": {"coding": [{"system": "http://loinc.org", "code": "48724000"}]},
        },
        {
            "resourceType": "Observation",
            "code": {
                "coding": [
                    {"system": SCT, "code": "250908004"},
                    {"system": SCT, "code": "48724000"},
                ]
            },
            "valueQuantity": {"value": 55},
        },
    ],
    "mv-proc-1": [
        {"coding": [{"system": SCT, "code": "232660008"}], "text": "Mitral valve repair"},
        {"coding": [{"system": OPCS, "code": "K34.1"}, {"system": OPCS, "code": "Y74.8"}]},
        {"coding": [{"system": "https://fhir.kings.nhs.uk/CodeSystem/local", "code": "40110"}]},
        {"coding": [{"system": SCT, "display": "Transcatheter mitral valve repair"}]},
        {"coding": [{"code": "K34.1"}]},
        {"coding": [{"system": f"{OPCS} ", "code": "K34.1"}]},
        {"coding": [{"system": OPCS, "code": None}]},
        {"coding": [{"system": OPCS, "_code": {"extension": [{"url": "x", "valueCode": "u"}]}}]},
        {"coding": [{"system": SCT, "code": "", "display": "empty code"}]},
        {"coding": []},
        {"text": "MV repair - conventional"},
    ],
}

OWNER = {
    "mv-nhs-1": "Identifier",
    "mv-ref-1": "ServiceRequest",
    "mv-proc-1": "CodeableConcept",
}


def _node(value: dict[str, Any], owner: str) -> Node:
    return Node(load_definitions().types[owner], value, owner, value, value)


@pytest.mark.parametrize(("key", "expression"), sorted(PROFILE_RULES))
def test_the_python_agrees_with_fhirpathpy(key: str, expression: str) -> None:
    check = PROFILE_RULES[(key, expression)]
    owner = OWNER.get(key, "Observation")
    compiled = fhirpathpy.compile(expression, models["r4"])
    outcomes = []
    for value in CASES[key]:
        reference = compiled(value, {"resource": value}) != [False]
        assert check(value, _node(value, owner)) is reference, value
        outcomes.append(reference)
    assert True in outcomes and False in outcomes  # the cases exercise both verdicts


def _constrained_paths() -> dict[str, str]:
    """Each of our profile constraint keys -> the snapshot element it sits on."""
    paths = {}
    for path in BUILD.glob("StructureDefinition-MV-*.json"):
        definition = orjson.loads(path.read_bytes())
        for element in definition["snapshot"]["element"]:
            for c in element.get("constraint", []):
                if c.get("source") == definition["url"]:
                    paths[c["key"]] = element["path"]
    return paths


def _items(resource: dict[str, Any], path: str) -> list[Any]:
    """The values at a dotted element path (`Procedure.code`, `Patient.identifier`)."""
    kind, *steps = path.split(".")
    found: list[Any] = [resource] if resource.get("resourceType") == kind else []
    for step in steps:
        values = [v.get(step) for v in found if type(v) is dict]
        found = [x for v in values for x in (v if type(v) is list else [v]) if x is not None]
    return found


def _mutants(value: Any) -> Iterator[Any]:
    """``value``, then copies without each property or list item, at any depth
    (`resourceType` kept: fhirpathpy needs it to resolve `value[x]`)."""
    yield value
    if type(value) is dict:
        for key, item in value.items():
            if key == "resourceType":
                continue
            yield {k: v for k, v in value.items() if k != key}
            for changed in list(_mutants(item))[1:]:
                yield {**value, key: changed}
    elif type(value) is list:
        for i, item in enumerate(value):
            yield value[:i] + value[i + 1 :]
            for changed in list(_mutants(item))[1:]:
                yield [*value[:i], changed, *value[i + 1 :]]


@pytest.mark.parametrize(("key", "expression"), sorted(PROFILE_RULES))
def test_the_python_agrees_with_fhirpathpy_on_the_examples_and_their_mutants(
    key: str, expression: str
) -> None:
    check = PROFILE_RULES[(key, expression)]
    owner = OWNER.get(key, "Observation")
    element = _constrained_paths()[key]
    compiled = fhirpathpy.compile(expression, models["r4"])
    outcomes = set()
    for example in EXAMPLES:
        for item in _items(orjson.loads(example.read_bytes()), element):
            for value in _mutants(item):
                reference = compiled(value, {"resource": value}) != [False]
                assert check(value, _node(value, owner)) is reference, (example.name, value)
                outcomes.add(reference)
    assert outcomes == {True, False}


def test_the_built_profiles_use_the_python() -> None:
    """If a profile's expression changes, this fails: update profile_rules.py with it."""
    registry = ProfileRegistry.from_directory(BUILD)
    engines = {}
    for profile in registry.all():
        stack = [profile.root]
        while stack:
            node = stack.pop()
            for invariant in node.invariants:
                engines[invariant.key] = invariant.compiled.engine
            stack.extend(node.children.values())
            stack.extend(s.node for s in node.slices)
    assert {k: engines.get(k) for k in CASES} == dict.fromkeys(CASES, "hand")


def test_every_constraint_of_our_profiles_is_hand_compiled() -> None:
    """A new profile constraint would otherwise run through fhirpathpy on every resource."""
    assert set(_constrained_paths()) == {key for key, _ in PROFILE_RULES}


def test_the_keys_match_the_built_definitions() -> None:
    expressions = set()
    for path in BUILD.glob("StructureDefinition-MV-*.json"):
        for element in orjson.loads(path.read_bytes())["differential"]["element"]:
            for c in element.get("constraint", []):
                expressions.add((c["key"], " ".join(c["expression"].split())))
    assert set(PROFILE_RULES) <= expressions
