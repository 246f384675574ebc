"""The public fhir-test-cases validator corpus: what the HL7 Java validator accepts, we accept.

The reference validator also checks terminology, profiles, references and FHIRPath invariants,
so we cannot catch every invalid case; the floor below is what the structural layer catches
today (fhir.resources R4B alone: 32/95) and fails the build if a change loses any.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import orjson
import pytest

from app.validation.structural import validate_structure

CORPUS: Final = Path(__file__).resolve().parents[1] / "fixtures" / "ftc-validator"
CASES: Final[list[dict[str, Any]]] = json.loads((CORPUS / "cases.json").read_text("utf-8"))
INVALID_CAUGHT_FLOOR: Final = 42

# Valid for the reference only under a non-default option of the test manifest; the same files
# are also listed as invalid cases run with default options, and there we agree.
DIVERGENT_VALID: Final = {
    "contained-resource-bad-id-ignore": (
        "run with contained resources not validated; a 65-character contained id breaks the"
        " id rule (the default-mode case contained-resource-bad-id is invalid)"
    ),
    "json-comments-1-yes": "run with JSON comments allowed; comments are not JSON (RFC 8259)",
    "json-comments-2-yes": "run with JSON comments allowed; comments are not JSON (RFC 8259)",
}


def rejection(case: dict[str, Any]) -> str | None:
    """Why we reject the case's file (parse or structural error), or None if we accept it."""
    raw = (CORPUS / case["file"]).read_bytes().removeprefix(b"\xef\xbb\xbf")
    try:
        resource = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return f"not JSON: {exc}"
    errors = [i for i in validate_structure(resource) if i.severity in ("error", "fatal")]
    return errors[0].diagnostics if errors else None


def _valid_params() -> list[Any]:
    params = []
    for case in CASES:
        if not case["valid"]:
            continue
        reason = DIVERGENT_VALID.get(case["name"])
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(case, id=case["name"], marks=marks))
    return params


def test_corpus_is_complete() -> None:
    assert len(CASES) == 190
    assert sum(c["valid"] for c in CASES) == 95
    assert all((CORPUS / c["file"]).is_file() for c in CASES)


@pytest.mark.parametrize("case", _valid_params())
def test_reference_valid_case_is_accepted(case: dict[str, Any]) -> None:
    assert rejection(case) is None


def test_invalid_cases_caught_at_least_the_floor() -> None:
    invalid = [c for c in CASES if not c["valid"]]
    missed = [c["name"] for c in invalid if rejection(c) is None]
    caught = len(invalid) - len(missed)
    assert caught >= INVALID_CAUGHT_FLOOR, f"caught {caught}/{len(invalid)}; missed: {missed}"
