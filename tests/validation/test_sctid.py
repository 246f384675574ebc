"""SNOMED CT identifier syntax: length, partition and the Verhoeff check digit."""

from __future__ import annotations

import pytest

from app.validation.sctid import is_sctid, sctid_problem


@pytest.mark.parametrize(
    "code",
    [
        "48724000",  # mitral regurgitation (international concept)
        "40701008",  # echocardiography
        "35901911000001104",  # a UK extension (dm+d) concept: namespace partition 10
        "900000000000207008",  # 18 digits: the international edition module
    ],
)
def test_real_identifiers_are_well_formed(code: str) -> None:
    assert is_sctid(code)
    assert sctid_problem(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("48724001", "check digit"),  # one digit off
        ("48724", "6 to 18 digits"),
        ("048724000", "6 to 18 digits"),  # no leading zero
        ("48724000x", "6 to 18 digits"),
        ("1234567890123456789", "6 to 18 digits"),
        ("4872406", "partition"),  # partition 40 does not exist
    ],
)
def test_malformed_identifiers_say_why(code: str, reason: str) -> None:
    assert not is_sctid(code)
    problem = sctid_problem(code)
    assert problem is not None and reason in problem


def test_expressions_are_not_judged() -> None:
    assert sctid_problem("48724000 |Mitral regurgitation|") is None
    assert sctid_problem("71388002:405813007=91134007") is None
