"""The published examples against the built profiles: valid ones pass, invalid ones fail as
`profiles/examples/invalid/expected.json` says (file -> list of {severity, expression})."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from app.terminology.local import LocalTerminology
from app.validation.profiles import ProfileRegistry
from app.validation.validator import Validator

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "profiles" / "build"
EXAMPLES = ROOT / "profiles" / "examples"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted(p for p in (EXAMPLES / "invalid").glob("*.json") if p.name != "expected.json")


def _expected() -> dict[str, Any]:
    path = EXAMPLES / "invalid" / "expected.json"
    return orjson.loads(path.read_bytes()) if path.exists() else {}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(
        ProfileRegistry.from_directory(BUILD),
        LocalTerminology.from_directory(ROOT / "terminology"),
    )


def test_every_built_profile_compiles() -> None:
    registry = ProfileRegistry.from_directory(BUILD)
    names = {url.rsplit("/", 1)[-1] for url in registry.urls()}
    assert {"MV-Patient", "MV-Referral", "MV-Procedure", "MV-EchoAssessment"} <= names


def test_there_are_examples_of_both_kinds() -> None:
    if not VALID and not INVALID:
        pytest.skip("profiles/examples/ has no examples yet (the profiles helper writes them)")
    assert VALID and INVALID


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
async def test_a_valid_example_has_no_errors(validator: Validator, path: Path) -> None:
    resource = orjson.loads(path.read_bytes())
    issues = await validator.validate(resource)
    assert [i for i in issues if i.severity in ("error", "fatal")] == []
    assert resource.get("meta", {}).get("profile"), "an example should claim its profile"


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
async def test_an_invalid_example_fails_as_expected(validator: Validator, path: Path) -> None:
    expected = _expected().get(path.name)
    assert expected, f"{path.name} is not listed in expected.json"
    issues = await validator.validate(orjson.loads(path.read_bytes()))
    actual = {(i.severity, i.expression[0] if i.expression else "") for i in issues}
    wanted = {(e["severity"], e["expression"]) for e in expected}
    assert wanted <= actual, sorted(actual)
    unexpected_errors = {a for a in actual if a[0] == "error"} - wanted
    assert not unexpected_errors
