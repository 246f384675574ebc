"""Number, quantity and composite search end to end: prefixes, precision, units, components."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import assert_outcome, put_resource, search_ids

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"


def risk(res_id: str, probability: float | str) -> dict[str, Any]:
    return {
        "resourceType": "RiskAssessment",
        "id": res_id,
        "status": "final",
        "subject": {"reference": "Patient/p"},
        "prediction": [{"probabilityDecimal": probability}],
    }


@pytest.fixture
async def risks(client):
    await put_resource(client, risk("r54", 5.4))
    await put_resource(client, risk("r5", 5))
    await put_resource(client, risk("r6", 6))
    await put_resource(client, risk("r100", 100))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("5.4", ["r54"]),
        ("5.40", ["r54"]),
        ("5", ["r5", "r54"]),  # 5 means [4.5, 5.5)
        ("5.0", ["r5"]),
        ("ne5.0", ["r100", "r54", "r6"]),
        ("gt5", ["r100", "r54", "r6"]),
        ("ge5.4", ["r100", "r54", "r6"]),
        ("lt6", ["r5", "r54"]),
        ("le6", ["r5", "r54", "r6"]),
        ("sa6", ["r100"]),
        ("eb5.4", ["r5"]),
        ("ap100", ["r100"]),
        ("ap5.5", ["r5", "r54", "r6"]),
        ("1e2", ["r100"]),
        ("5.4,6", ["r54", "r6"]),
    ],
)
async def test_number_prefixes_and_precision(client, risks, query, expected):
    assert await search_ids(client, "RiskAssessment", ("probability", query)) == expected


def measured(res_id: str, value: float, code: str = "mm[Hg]", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": res_id,
        "status": "final",
        # MV mean gradient (post-TEER stenosis), in mm[Hg]: not a vital sign, so no vital-signs
        # profile applies and the unit may vary
        "code": {"coding": [{"system": LOINC, "code": "80073-0"}]},
        "valueQuantity": {"value": value, "unit": code, "system": UCUM, "code": code},
        **extra,
    }


@pytest.fixture
async def pressures(client):
    await put_resource(client, measured("q120", 120))
    await put_resource(client, measured("q95", 95))
    await put_resource(client, measured("q140kpa", 140, "kPa"))
    await put_resource(
        client,
        {
            "resourceType": "Observation",
            "id": "unitonly",
            "status": "final",
            "code": {"text": "x"},
            "valueQuantity": {"value": 120, "unit": "mmHg"},
        },
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("120", ["q120", "unitonly"]),
        (f"120|{UCUM}|mm[Hg]", ["q120"]),
        ("120||mm[Hg]", ["q120"]),
        ("120||mmHg", ["unitonly"]),
        (f"gt100|{UCUM}|mm[Hg]", ["q120"]),
        ("gt100", ["q120", "q140kpa", "unitonly"]),
        (f"le120|{UCUM}|", ["q120", "q95"]),
        (f"lt100|{UCUM}|kPa", []),
        ("ap130||kPa", ["q140kpa"]),
    ],
)
async def test_quantity_forms(client, pressures, query, expected):
    assert await search_ids(client, "Observation", ("value-quantity", query)) == expected


async def test_quantity_missing(client, pressures):
    await put_resource(
        client,
        {"resourceType": "Observation", "id": "s", "status": "final", "code": {"text": "x"}},
    )

    assert await search_ids(client, "Observation", ("value-quantity:missing", "true")) == ["s"]


def panel(res_id: str, systolic: float, diastolic: float) -> dict[str, Any]:
    def component(code: str, value: float) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }

    # a blood pressure panel as the R4 vital-signs profile (bp) requires it
    return {
        "resourceType": "Observation",
        "id": res_id,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-11-30T09:15:00Z",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "component": [component("8480-6", systolic), component("8462-4", diastolic)],
    }


async def test_composite_components_must_come_from_the_same_element(client, pressures):
    await put_resource(client, panel("high", 150, 95))
    await put_resource(client, panel("normal", 118, 76))

    systolic_over_140 = f"{LOINC}|8480-6$gt140"
    assert await search_ids(
        client, "Observation", ("component-code-value-quantity", systolic_over_140)
    ) == ["high"]
    # 95 is the diastolic value of "high": it must not pair with the systolic code.
    assert (
        await search_ids(
            client, "Observation", ("component-code-value-quantity", f"{LOINC}|8480-6$95")
        )
        == []
    )
    assert await search_ids(
        client, "Observation", ("component-code-value-quantity", f"{LOINC}|8462-4$95")
    ) == ["high"]
    either = f"{LOINC}|8480-6$118,{LOINC}|8480-6$150"
    assert await search_ids(client, "Observation", ("component-code-value-quantity", either)) == [
        "high",
        "normal",
    ]
    assert await search_ids(
        client, "Observation", ("code-value-quantity", f"{LOINC}|80073-0$gt100")
    ) == [
        "q120",
        "q140kpa",
    ]


async def test_malformed_values_are_400(client):
    for params, name in (
        ({"probability": "high"}, "probability"),
        ({"value-quantity": "gt|x|y"}, "value-quantity"),
        ({"code-value-quantity": "8480-6"}, "code-value-quantity"),
    ):
        response = await client.get(
            "RiskAssessment" if name == "probability" else "Observation", params=params
        )
        assert_outcome(response, 400, "invalid", name, name)


async def test_token_token_composite_components_cannot_stand_in_for_each_other(client):
    """code-value-concept=A$B must not match an Observation whose code is B and value A."""
    loinc = "http://loinc.org"
    swapped = {
        "resourceType": "Observation",
        "id": "swapped",
        "status": "final",
        "code": {"coding": [{"system": loinc, "code": "B-code"}]},
        "valueCodeableConcept": {"coding": [{"system": loinc, "code": "A-code"}]},
    }
    straight = {
        **swapped,
        "id": "straight",
        "code": {"coding": [{"system": loinc, "code": "A-code"}]},
        "valueCodeableConcept": {"coding": [{"system": loinc, "code": "B-code"}]},
    }
    for body in (swapped, straight):
        response = await client.put(f"Observation/{body['id']}", json=body)
        assert response.status_code == 201, response.text

    bundle = (
        await client.get("Observation", params={"code-value-concept": "A-code$B-code"})
    ).json()

    assert [e["resource"]["id"] for e in bundle.get("entry", [])] == ["straight"]
