"""The profile examples: complete, realistic, and judged by our validator as recorded.

`profiles/examples/valid/` holds at least one conforming instance per profile and
`profiles/examples/invalid/` at least two with exactly one known defect each; `expected.json`
lists, per invalid file, the issues (severity + FHIRPath expression) the validator must report.
Our invariants (mv-nhs-1, mv-ref-1, mv-echo-1/2) are also run through fhirpathpy directly, so
a broken expression fails here even before the validator is involved.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Final

import pytest
from fhirpathpy import evaluate
from fhirpathpy.models import models

from app.errors import Issue
from app.terminology.local import LocalTerminology
from app.validation.profiles import ProfileRegistry
from app.validation.validator import Validator

REPO: Final = Path(__file__).resolve().parents[2]
EXAMPLES: Final = REPO / "profiles" / "examples"
BUILD: Final = REPO / "profiles" / "build"
SD: Final = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/"
EXPECTED: Final[dict[str, list[dict[str, str]]]] = json.loads(
    (EXAMPLES / "invalid" / "expected.json").read_text("utf-8")
)
VALID: Final = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID: Final = sorted(
    p for p in (EXAMPLES / "invalid").glob("*.json") if p.name != "expected.json"
)
NHS: Final = "https://fhir.nhs.uk/Id/nhs-number"
# Cases our validator cannot decide yet, and why; strict xfail, so each fails once fixed.
PENDING: Final[dict[str, str]] = {}


def _invalid_params() -> list[Any]:
    return [
        pytest.param(p, id=p.name, marks=pytest.mark.xfail(reason=PENDING[p.name], strict=True))
        if p.name in PENDING
        else pytest.param(p, id=p.name)
        for p in INVALID
    ]


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _profile_of(path: Path) -> str:
    profiles = _json(path)["meta"]["profile"]
    assert len(profiles) == 1, path.name
    return str(profiles[0])


def _constraint(profile: str, key: str) -> str:
    sd = _json(BUILD / f"StructureDefinition-{profile}.json")
    for el in sd["snapshot"]["element"]:
        for c in el.get("constraint", []):
            if c["key"] == key:
                return str(c["expression"])
    raise AssertionError(f"{key} not in {profile}")


def test_every_profile_has_valid_and_invalid_examples() -> None:
    built = {
        p.name.removeprefix("StructureDefinition-").removesuffix(".json") for p in BUILD.iterdir()
    }
    profiles = {name for name in built if name.startswith("MV-")}
    valid = Counter(_profile_of(p).removeprefix(SD) for p in VALID)
    invalid = Counter(_profile_of(p).removeprefix(SD) for p in INVALID)
    assert set(valid) == profiles
    assert all(invalid[name] >= 2 for name in profiles), invalid


def test_expected_lists_exactly_the_invalid_examples() -> None:
    assert set(EXPECTED) == {p.name for p in INVALID}
    for name, issues in EXPECTED.items():
        assert issues, name
        for issue in issues:
            assert issue["severity"] in ("error", "warning")
            assert (
                issue["expression"].split(".")[0]
                == _json(EXAMPLES / "invalid" / name)["resourceType"]
            )


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("9000000009", True),
        ("9434765919", True),
        ("4010232137", True),
        ("9434765918", False),  # wrong check digit
        ("1234567890", False),  # remainder 1: check digit would be 10, never valid
        ("943476591", False),  # 9 digits
        ("943 476 5919", False),  # spaces
        ("94347659AB", False),
    ],
)
def test_nhs_number_invariant(value: str, ok: bool) -> None:
    expression = _constraint("MV-Patient", "mv-nhs-1")
    identifier = {"system": NHS, "value": value}
    assert evaluate(identifier, expression) == [ok]
    assert evaluate({"system": "https://fhir.gstt.nhs.uk/Id/mrn", "value": "X1"}, expression) == [
        True
    ]  # other identifiers are not NHS numbers


@pytest.mark.parametrize(
    ("system", "ok"),
    [
        ("https://fhir.nhs.uk/Id/UBRN", True),
        ("https://fhir.gstt.nhs.uk/Id/referral", True),
        ("https://fhir.royalbrompton.nhs.uk/Id/referral", True),
        ("https://pas.gstt.nhs.uk/referrals", False),
        ("https://fhir.gstt.nhs.uk/Id/mrn", False),
    ],
)
def test_referral_identifier_invariant(system: str, ok: bool) -> None:
    expression = _constraint("MV-Referral", "mv-ref-1")
    resource = {"resourceType": "ServiceRequest", "identifier": [{"system": system, "value": "1"}]}
    assert evaluate(resource, expression, model=models["r4"]) == [ok]


def test_echo_invariants_on_the_examples() -> None:
    eroa = _json(EXAMPLES / "valid" / "MV-EchoAssessment-eroa.json")
    severity = _json(EXAMPLES / "valid" / "MV-EchoAssessment-severity.json")
    no_ucum = _json(EXAMPLES / "invalid" / "MV-EchoAssessment-no-ucum.json")
    as_text = _json(EXAMPLES / "invalid" / "MV-EchoAssessment-value-string.json")
    ucum = _constraint("MV-EchoAssessment", "mv-echo-1")
    coded = _constraint("MV-EchoAssessment", "mv-echo-2")
    r4 = models["r4"]
    assert [evaluate(r, ucum, model=r4) for r in (eroa, severity, no_ucum)] == [
        [True],
        [True],
        [False],
    ]
    assert [evaluate(r, coded, model=r4) for r in (eroa, severity, as_text)] == [
        [True],
        [True],
        [False],
    ]


@pytest.fixture(scope="module")
def validator() -> Validator:
    terminology = LocalTerminology.from_directory(REPO / "terminology")
    return Validator(ProfileRegistry.from_directory(BUILD), terminology)


def _errors(issues: list[Issue]) -> list[tuple[str, str]]:
    return [(i.severity, i.expression[0] if i.expression else "") for i in issues]


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
async def test_valid_examples_pass(validator: Validator, path: Path) -> None:
    issues = await validator.validate(_json(path))
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    assert not errors, [i.diagnostics for i in errors]


@pytest.mark.parametrize("path", _invalid_params())
async def test_invalid_examples_report_the_recorded_issues(
    validator: Validator, path: Path
) -> None:
    found = _errors(await validator.validate(_json(path)))
    expected = [(i["severity"], i["expression"]) for i in EXPECTED[path.name]]
    missing = [e for e in expected if e not in found]
    assert not missing, f"expected {missing}, got {found}"
    unexpected = [f for f in found if f[0] in ("error", "fatal") and f not in expected]
    assert not unexpected, f"errors beyond the one defect: {unexpected}"
