"""Simulated patients: names, addresses and NHS numbers that look like the real thing.

NHS numbers come from the 999 range (never issued to real people) and carry a valid mod-11
check digit, so any check-digit failure in ingest is one of the deliberately bad units.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace

from app.model.nhs_number import check_digit, is_valid

FAMILIES = (  # noqa: SIM905 (one string keeps 120 names on a few lines)
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
    "Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis James Phillips "
    "Mason Mitchell Rose Davis Rodriguez Cox Alexander Morgan Moore Mills King Adams Garcia "
    "Harris Lee Martin Allen Young Scott Baker Nelson Hill Campbell Parker Collins Stewart "
    "Okafor Nowak Begum Murphy Hughes Ahmed Ali Singh Kaur Kowalski Osei Mensah Nguyen Chen "
    "Wang Li Zhang Kumar Shah Ward Turner Carter Cooper Morris Bell Bailey Cook Richardson "
    "Howard Fisher Russell Gray Ellis Price Bennett Barnes Ross Henderson Coleman Jenkins "
    "Perry Powell Long Patterson Butler Simmons Foster Bryant Okonkwo Adeyemi Hussain "
    "Rahman Chowdhury Miah Uddin Choudhury Ogunleye Asante Boateng Fernandes D'Souza "
    "O'Brien O'Connor McCarthy Kelly Doyle Byrne Gallagher Santos Silva Costa Pereira"
).split()
GIVEN_FEMALE = (  # noqa: SIM905
    "Adaeze Grace Priya Megan Rahima Amelia Isla Ava Mia Freya Lily Emily Sophie Fatima "
    "Aisha Chloe Ella Zara Ruby Evie Hannah Margaret Patricia Jean Doreen Maureen Joan "
    "Barbara Sheila Brenda Shirley Valerie Zoë Renée Chiamaka Nusrat Halina Bernadette"
).split()
GIVEN_MALE = (  # noqa: SIM905
    "Tomasz John Sean Imran Oliver Harry Jack Noah Leo Arthur Oscar George Mohammed Daniel "
    "James William Thomas Samuel Joseph Kenneth Brian Derek Raymond Trevor Kwame Emeka "
    "Rajesh Abdul Desmond Clive Winston Stanley Joaquín Andrés Piotr Declan Colm"
).split()
STREETS = (
    "Acre Lane",
    "Coldharbour Lane",
    "Tooting High Street",
    "Garratt Lane",
    "Walworth Road",
    "Old Kent Road",
    "Denmark Hill",
    "Mile End Road",
    "Whitechapel Road",
    "Roman Road",
    "Du Cane Road",
    "Uxbridge Road",
    "King Street",
    "Fulham Palace Road",
    "Streatham High Road",
    "Lordship Lane",
    "Brixton Hill",
    "Kennington Road",
    "Bow Road",
    "Goldhawk Road",
)
POSTCODE_AREAS = ("SW2", "SE5", "SW17", "SE1", "SE15", "E1", "E3", "W12", "W6", "SW16", "SE22")
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


nhs_check_digit = check_digit


def is_valid_nhs_number(value: str) -> bool:
    return is_valid(value.replace(" ", ""))


def nhs_number(index: int) -> str:
    """The index-th valid NHS number in the 999 test range (unique per index)."""
    stem = 999_000_000 + index * 7
    while (check := nhs_check_digit(str(stem))) is None:
        stem += 1
    return f"{stem}{check}"


def invalid_nhs_number(valid: str) -> str:
    """The same number with a wrong check digit, for a deliberately bad unit."""
    check = int(valid[9])
    return f"{valid[:9]}{(check + 3) % 10}"


def spaced_nhs_number(value: str) -> str:
    return f"{value[:3]} {value[3:6]} {value[6:]}"


@dataclass(frozen=True, slots=True)
class Person:
    """A patient as a centre's record holds them (one centre's typo is a different Person)."""

    index: int
    nhs: str
    family: str
    given: str
    sex: str  # "male" | "female"
    birth_date: dt.date
    street: str
    postcode: str


def make_person(rng: random.Random, index: int, age: int, sex: str, on: dt.date) -> Person:
    """A patient of ``age`` (years) on the date ``on``."""
    given = rng.choice(GIVEN_FEMALE if sex == "female" else GIVEN_MALE)
    birth = on - dt.timedelta(days=int(age * 365.25) + rng.randrange(365))
    area = rng.choice(POSTCODE_AREAS)
    postcode = (
        f"{area} {rng.randint(1, 9)}{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
    )
    return Person(
        index=index,
        nhs=nhs_number(index),
        family=rng.choice(FAMILIES),
        given=given,
        sex=sex,
        birth_date=birth,
        street=f"{rng.randint(1, 240)} {rng.choice(STREETS)}",
        postcode=postcode,
    )


def misspelt(person: Person) -> Person:
    """The record as first keyed in with two letters of the family name swapped."""
    name = person.family
    cut = max(1, len(name) // 2)
    if len(name) < 3 or name[cut - 1] == name[cut]:
        return replace(person, family=name + "e")
    return replace(person, family=name[: cut - 1] + name[cut] + name[cut - 1] + name[cut + 1 :])


def day_month_swapped(person: Person) -> Person | None:
    """The birth date keyed in as MM/DD, when that is still a real date and differs."""
    born = person.birth_date
    if born.day > 12 or born.day == born.month:
        return None
    return replace(person, birth_date=born.replace(month=born.day, day=born.month))
