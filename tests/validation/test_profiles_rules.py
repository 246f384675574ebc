"""The hand-compiled profile invariants agree with fhirpathpy, and are the ones in use."""

from __future__ import annotations

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

BUILD = Path(__file__).resolve().parents[2] / "profiles" / "build"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
UCUM = "http://unitsofmeasure.org"
SCT = "http://snomed.info/sct"

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
}

OWNER = {"mv-nhs-1": "Identifier", "mv-ref-1": "ServiceRequest"}


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


def test_the_keys_match_the_built_definitions() -> None:
    expressions = set()
    for path in BUILD.glob("StructureDefinition-MV-*.json"):
        for element in orjson.loads(path.read_bytes())["differential"]["element"]:
            for c in element.get("constraint", []):
                expressions.add((c["key"], " ".join(c["expression"].split())))
    assert set(PROFILE_RULES) <= expressions
