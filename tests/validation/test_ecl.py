"""ECL syntax: the simple compound forms are judged, advanced forms never refused."""

from __future__ import annotations

import pytest

from app.validation.ecl import ecl_problem


@pytest.mark.parametrize(
    "ecl",
    [
        "<< 48724000 |Mitral regurgitation|",
        "<<48724000 MINUS << 7054007",
        "(<< 48724000 OR << 7054007) AND ^ 929360041000036105",
        "*",
        # refinements and other advanced forms are left alone
        "< 404684003 : 363698007 = << 39057004",
        '<< 48724000 {{ term = "mitral" }}',
    ],
)
def test_valid_or_unjudged_expressions_pass(ecl: str) -> None:
    assert ecl_problem(ecl) is None


@pytest.mark.parametrize(
    ("ecl", "reason"),
    [
        ("234234 << 234234", "cannot follow"),  # fhir-test-cases vs-bad-ecl
        ("<< ", "missing"),
        ("(<< 48724000 OR 7054007", "not closed"),
        ("<< mitral", "a concept is expected"),
    ],
)
def test_malformed_expressions_say_why(ecl: str, reason: str) -> None:
    problem = ecl_problem(ecl)
    assert problem is not None and reason in problem
