"""The real content under ``terminology/`` loads, and says what the network relies on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.terminology.local import LocalTerminology
from app.terminology.service import (
    Coding,
    ExpandRequest,
    LookupRequest,
    TranslateRequest,
    ValidateCodeRequest,
)

from .conftest import BASE, ICD10, LOINC, OPCS4, SCT

CONTENT = Path(__file__).resolve().parents[2] / "terminology"
CENTRES = [
    "st-thomas",
    "kings",
    "st-georges",
    "royal-brompton",
    "harefield",
    "barts",
    "hammersmith",
]
EXTERNAL = [SCT, OPCS4, ICD10, LOINC]
VERIFICATION = {"verified", "verified-secondary", "unverified"}


def _files(folder: str) -> list[Path]:
    return sorted((CONTENT / folder).glob("*.json"))


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def real() -> LocalTerminology:
    return LocalTerminology.from_directory(CONTENT)


def _concepts(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append(item)
        out.extend(_concepts(item.get("concept", [])))
    return out


def test_all_of_the_content_loads_and_is_published(real: LocalTerminology) -> None:
    published = {(r["resourceType"], r["url"]) for r in real.resources()}

    for path in _files("codesystems") + _files("valuesets") + _files("conceptmaps"):
        resource = _read(path)
        assert (resource["resourceType"], resource["url"]) in published, path


@pytest.mark.parametrize("path", _files("valuesets"), ids=lambda p: p.stem)
def test_every_value_set_expands_to_at_least_one_code(real: LocalTerminology, path: Path) -> None:
    expanded = real.expand_sync(ExpandRequest(url=_read(path)["url"]))

    assert expanded["expansion"]["total"] >= 1


def test_nyha_class_is_exactly_the_four_classes(real: LocalTerminology) -> None:
    expanded = real.expand_sync(ExpandRequest(url=f"{BASE}/ValueSet/nyha-class"))

    assert sorted((c["system"], c["code"]) for c in expanded["expansion"]["contains"]) == [
        (SCT, "420300004"),
        (SCT, "420913000"),
        (SCT, "421704003"),
        (SCT, "422293003"),
    ]


@pytest.mark.parametrize("centre", CENTRES)
def test_each_centre_has_its_codes_value_set_and_map(real: LocalTerminology, centre: str) -> None:
    assert real.knows_code_system(f"{BASE}/CodeSystem/local-{centre}")
    assert real.knows_value_set(f"{BASE}/ValueSet/local-{centre}")
    assert real.knows_concept_map(f"{BASE}/ConceptMap/local-{centre}")


@pytest.mark.parametrize("centre", CENTRES)
def test_every_local_code_is_in_its_centres_map_and_procedures_and_reasons_translate(
    real: LocalTerminology, centre: str
) -> None:
    cs = _read(CONTENT / "codesystems" / f"local-{centre}.json")
    url = f"{BASE}/ConceptMap/local-{centre}"
    kinds: set[str] = set()
    for concept in _concepts(cs["concept"]):
        kind = next(p["valueCode"] for p in concept["property"] if p["code"] == "kind")
        kinds.add(kind)
        result = real.translate_sync(
            TranslateRequest(system=cs["url"], code=concept["code"], url=url)
        )
        assert result.matches, f"{concept['code']} is missing from {url}"
        if kind in ("procedure", "referral-reason"):
            assert result.result, result.message
    assert {"procedure", "referral-reason"} <= kinds


def test_every_map_target_is_a_system_we_hold_so_load_checked_it(real: LocalTerminology) -> None:
    for path in _files("conceptmaps"):
        for group in _read(path)["group"]:
            assert real.knows_code_system(group["source"]), (path, group["source"])
            assert group["target"] in EXTERNAL, (path, group["target"])


@pytest.mark.parametrize("system", EXTERNAL)
def test_every_external_code_carries_its_verification_and_source(
    real: LocalTerminology, system: str
) -> None:
    (cs,) = [
        r for r in real.resources() if r["resourceType"] == "CodeSystem" and r["url"] == system
    ]
    assert cs["content"] == "fragment"
    for concept in _concepts(cs["concept"]):
        props = {p["code"]: p for p in concept.get("property", [])}
        assert props["verification"]["valueCode"] in VERIFICATION, concept["code"]
        assert props["source"]["valueString"].strip(), concept["code"]


def test_snomed_is_the_uk_edition(real: LocalTerminology) -> None:
    result = real.lookup_sync(LookupRequest(system=SCT, code="48724000"))

    assert result.version is not None
    assert result.version.startswith("http://snomed.info/sct/83821000000107")
    assert result.display == "Mitral valve regurgitation"


@pytest.mark.parametrize(
    ("system", "code", "level"),
    [
        (SCT, "48724000", "verified"),
        (SCT, "865051000000105", "verified"),
        (SCT, "53059001", "verified-secondary"),
        (SCT, "255604002", "unverified"),
        (ICD10, "I34.0", "verified"),
        (OPCS4, "K35.8", "verified"),
        (LOINC, "10230-1", "verified"),
    ],
)
def test_verification_follows_the_domain_reference(
    real: LocalTerminology, system: str, code: str, level: str
) -> None:
    result = real.lookup_sync(LookupRequest(system=system, code=code, properties=("verification",)))

    assert [p.value for p in result.properties] == [level]


@pytest.mark.parametrize(
    ("value_set", "inside", "outside"),
    [
        ("mr-conditions", [(SCT, "48724000"), (ICD10, "I34.0")], [(SCT, "111287006")]),
        ("tr-conditions", [(SCT, "111287006"), (ICD10, "I36.1")], [(ICD10, "I34.0")]),
        ("valve-procedures-transcatheter-repair", [(SCT, "865051000000105")], [(SCT, "53059001")]),
        ("valve-procedures-transcatheter-replacement", [(SCT, "720583008")], []),
        ("echo-measurements", [(LOINC, "10230-1"), (LOINC, "80071-4")], []),
    ],
)
def test_value_sets_hold_the_codes_the_domain_reference_puts_there(
    real: LocalTerminology,
    value_set: str,
    inside: list[tuple[str, str]],
    outside: list[tuple[str, str]],
) -> None:
    url = f"{BASE}/ValueSet/{value_set}"
    for system, code in inside:
        request = ValidateCodeRequest(url=url, coding=Coding(system, code))
        assert real.validate_code_in_value_set_sync(request).result, (system, code)
    for system, code in outside:
        request = ValidateCodeRequest(url=url, coding=Coding(system, code))
        assert not real.validate_code_in_value_set_sync(request).result, (system, code)
