"""The R4 vital signs profiles (observation-vitalsigns.html) bind every vital sign Observation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.errors import Issue
from app.validation.base_rules import base_issues
from app.validation.vital_signs import VITAL_SIGNS, vital_sign_of

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
VITAL_SIGNS_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
            "display": "Vital Signs",
        }
    ]
}
NARRATIVE = {
    "status": "generated",
    "div": '<div xmlns="http://www.w3.org/1999/xhtml">Pre-operative observation</div>',
}


def errors(resource: dict[str, Any]) -> list[Issue]:
    return [i for i in base_issues(resource) if i.severity == "error"]


def vital(code: str, *extra: dict[str, str], **elements: Any) -> dict[str, Any]:
    """A pre-operative vital sign Observation coded with LOINC ``code``."""
    return {
        "resourceType": "Observation",
        "id": "preop-vitals-1",
        "text": NARRATIVE,
        "status": "final",
        "category": [VITAL_SIGNS_CATEGORY],
        "code": {"coding": [{"system": LOINC, "code": code}, *extra]},
        "subject": {"reference": "Patient/9000000009"},
        "effectiveDateTime": "2024-04-12T08:30:00+01:00",
        **elements,
    }


def quantity(value: float, code: str) -> dict[str, Any]:
    return {"value": value, "unit": code, "system": UCUM, "code": code}


def blood_pressure(**elements: Any) -> dict[str, Any]:
    def component(loinc: str, value: float) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC, "code": loinc}]},
            "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }

    parts = [component("8480-6", 128), component("8462-4", 84)]
    return vital("85354-9", component=parts, **elements)


CONFORMANT = [
    pytest.param(vital("8310-5", valueQuantity=quantity(36.8, "Cel")), id="temp-celsius"),
    pytest.param(vital("8310-5", valueQuantity=quantity(98.2, "[degF]")), id="temp-fahrenheit"),
    pytest.param(vital("8867-4", valueQuantity=quantity(72, "/min")), id="heart-rate"),
    pytest.param(vital("9279-1", valueQuantity=quantity(16, "/min")), id="resp-rate"),
    pytest.param(
        vital("2708-6", {"system": LOINC, "code": "59408-5"}, valueQuantity=quantity(97, "%")),
        id="spo2-with-pulse-oximetry-code",
    ),
    pytest.param(vital("8302-2", valueQuantity=quantity(172, "cm")), id="height"),
    pytest.param(vital("9843-4", valueQuantity=quantity(35, "cm")), id="head-circumference"),
    pytest.param(vital("29463-7", valueQuantity=quantity(81.5, "kg")), id="weight-kg"),
    pytest.param(vital("29463-7", valueQuantity=quantity(180, "[lb_av]")), id="weight-lb"),
    pytest.param(vital("39156-5", valueQuantity=quantity(27.5, "kg/m2")), id="bmi"),
    pytest.param(blood_pressure(), id="blood-pressure"),
    pytest.param(
        vital(
            "8310-5",
            {"system": SNOMED, "code": "276885007"},
            valueQuantity=quantity(37.0, "Cel"),
        ),
        id="temp-with-snomed-translation",
    ),
    pytest.param(
        vital("8867-4", dataAbsentReason={"text": "patient refused"}), id="no-value-with-reason"
    ),
    pytest.param(
        vital(
            "8310-5",
            valueQuantity=quantity(36.8, "Cel"),
            effectivePeriod={"start": "2024-04-12T08:00:00Z", "end": "2024-04-12T08:05:00Z"},
        ),
        id="period",
    ),
]


@pytest.mark.parametrize("resource", CONFORMANT)
def test_conformant_vital_signs_pass(resource: dict[str, Any]) -> None:
    if "effectivePeriod" in resource:
        del resource["effectiveDateTime"]
    assert errors(resource) == []


def test_observation_that_is_no_vital_sign_is_not_held_to_the_profiles() -> None:
    echo = vital("59282-4", valueQuantity=quantity(62, "%"))  # LVEF by echo: not a vital sign
    del echo["category"]
    assert vital_sign_of(echo) is None
    assert errors(echo) == []


@pytest.mark.parametrize(
    ("resource", "fragment", "expression"),
    [
        pytest.param(
            vital("8310-5", valueQuantity=quantity(309.9, "K")),
            "must be '.+' or '.+', not 'K'",
            "Observation.value.ofType(Quantity).code",
            id="temp-in-kelvin",
        ),
        pytest.param(
            vital("8867-4", valueQuantity=quantity(72, "{beats}/min")),
            "not '{beats}/min'",
            "Observation.value.ofType(Quantity).code",
            id="heart-rate-annotated-unit",
        ),
        pytest.param(
            vital("29463-7", valueQuantity=quantity(81.5, "kg") | {"system": "urn:local"}),
            "unit system must be",
            "Observation.value.ofType(Quantity).system",
            id="weight-local-unit-system",
        ),
        pytest.param(
            vital("39156-5", valueQuantity={"value": 27.5, "system": UCUM, "code": "kg/m2"}),
            "must have a unit",
            "Observation.value.ofType(Quantity)",
            id="bmi-without-unit",
        ),
        pytest.param(
            vital("8302-2", valueString="172 cm"),
            "must be a Quantity, not String",
            "Observation.value.ofType(String)",
            id="height-as-string",
        ),
        pytest.param(
            vital(
                "8310-5",
                category=[{"coding": [{"code": "exam"}]}],
                valueQuantity=quantity(36.8, "Cel"),
            ),
            "category 'vital-signs'",
            "Observation.category",
            id="no-vital-signs-category",
        ),
        pytest.param(
            {
                "resourceType": "Observation",
                "status": "final",
                "text": NARRATIVE,
                "category": [VITAL_SIGNS_CATEGORY],
                "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
                "valueQuantity": quantity(72, "/min"),
            },
            "must have a subject",
            "Observation",
            id="no-subject",
        ),
        pytest.param(
            vital("8310-5", valueQuantity=quantity(36.8, "Cel"), effectiveDateTime="2024-04"),
            "vs-1",
            "Observation.effective.ofType(dateTime)",
            id="month-precision",
        ),
        pytest.param(
            vital("8867-4"),
            "vs-2",
            "Observation",
            id="no-value-no-reason",
        ),
        pytest.param(
            vital(
                "85354-9",
                component=[
                    {
                        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                        "valueQuantity": quantity(128, "mm[Hg]"),
                    }
                ],
            ),
            "diastolic component",
            "Observation.component",
            id="bp-without-diastolic",
        ),
        pytest.param(
            blood_pressure()
            | {
                "component": [
                    {
                        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                        "valueQuantity": quantity(17, "kPa"),
                    },
                    {
                        "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                        "valueQuantity": quantity(11, "kPa"),
                    },
                ]
            },
            "not 'kPa'",
            "Observation.component[0].value.ofType(Quantity).code",
            id="bp-in-kpa",
        ),
        pytest.param(
            {
                **vital("8310-5", valueQuantity=quantity(36.0, "Cel")),
                "code": {"coding": [{"system": SNOMED, "code": "276885007"}]},
            },
            "must carry the LOINC code 8310-5",
            "Observation.code",
            id="snomed-temperature-without-loinc",
        ),
        pytest.param(
            {**blood_pressure(), "code": {"coding": [{"system": LOINC, "code": "76534-7"}]}},
            "must carry the LOINC code 85354-9",
            "Observation.code",
            id="noninvasive-bp-code-without-panel-code",
        ),
    ],
)
def test_vital_sign_profile_violations(
    resource: dict[str, Any], fragment: str, expression: str
) -> None:
    found = [i for i in errors(resource) if re.search(fragment, i.diagnostics)]
    assert found, errors(resource)
    assert found[0].expression == (expression,)


def test_vital_sign_in_a_bundle_is_located_in_its_entry() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:9c1b5a4e-7f3e-4d47-9d7b-0c8d0b6f3a11",
                "resource": vital("8867-4", valueQuantity=quantity(72, "beats/min")),
            }
        ],
    }
    [issue] = [i for i in errors(bundle) if "not 'beats/min'" in i.diagnostics]
    where = "Bundle.entry[0].resource/*Observation/preop-vitals-1*/.value.ofType(Quantity).code"
    assert issue.expression == (where,)


def test_every_profile_has_a_distinct_generic_loinc_code() -> None:
    generic = [sign.loinc for sign in VITAL_SIGNS]
    assert len(generic) == len(set(generic)) == 10
    for sign in VITAL_SIGNS:
        assert vital_sign_of({"code": {"coding": [{"system": LOINC, "code": sign.loinc}]}}) is sign
