from __future__ import annotations

import datetime as dt
import random

from app.ingest.synth.people import (
    day_month_swapped,
    invalid_nhs_number,
    is_valid_nhs_number,
    make_person,
    misspelt,
    nhs_check_digit,
    nhs_number,
    spaced_nhs_number,
)


def test_known_nhs_numbers_check_out() -> None:
    # Published examples of valid NHS numbers (NHS Digital test data).
    assert is_valid_nhs_number("9434765919")
    assert is_valid_nhs_number("943 476 5919")
    assert not is_valid_nhs_number("9434765918")
    assert not is_valid_nhs_number("943476591")
    assert nhs_check_digit("943476591") == 9


def test_generated_nhs_numbers_are_valid_unique_and_in_the_test_range() -> None:
    numbers = [nhs_number(i) for i in range(1, 5001)]
    assert len(set(numbers)) == len(numbers)
    assert all(n.startswith("999") and len(n) == 10 for n in numbers)
    assert all(is_valid_nhs_number(n) for n in numbers)


def test_invalid_nhs_number_differs_only_in_its_check_digit() -> None:
    valid = nhs_number(42)
    broken = invalid_nhs_number(valid)
    assert broken[:9] == valid[:9]
    assert not is_valid_nhs_number(broken)


def test_spaced_nhs_number_is_3_3_4() -> None:
    assert spaced_nhs_number("9434765919") == "943 476 5919"


def test_person_age_and_misspellings() -> None:
    on = dt.date(2026, 3, 12)
    person = make_person(random.Random(1), 7, 75, "female", on)
    age = (on - person.birth_date).days / 365.25
    assert 75 <= age < 76.1
    assert misspelt(person).family != person.family
    assert misspelt(person).nhs == person.nhs
    swapped = day_month_swapped(person)
    if swapped is not None:
        assert (swapped.birth_date.day, swapped.birth_date.month) == (
            person.birth_date.month,
            person.birth_date.day,
        )
