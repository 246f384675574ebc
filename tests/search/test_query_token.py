"""Token search end to end: system|code forms, :text, :not, :of-type, :missing, OR/AND."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import assert_outcome, put_resource, search_ids

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def observation(res_id: str, *codings: dict[str, str], text: str | None = None) -> dict[str, Any]:
    code: dict[str, Any] = {"coding": list(codings)} if codings else {}
    if text:
        code["text"] = text
    return {"resourceType": "Observation", "id": res_id, "status": "final", "code": code}


@pytest.fixture
async def observations(client):
    await put_resource(
        client,
        observation(
            "bp",
            {
                "system": LOINC,
                "code": "79991-6",
                "display": "Left ventricular ejection fraction by biplane method of discs",
            },
        ),
    )
    await put_resource(
        client,
        observation(
            "sys",
            {"system": LOINC, "code": "10230-1", "display": "Left ventricular ejection fraction"},
            {"system": SNOMED, "code": "250908004"},
        ),
    )
    await put_resource(client, observation("nosys", {"code": "10230-1"}, text="LVEF (São Paulo)"))
    await put_resource(client, observation("textonly", text="Pulse felt at wrist"))


async def test_code_in_any_system(client, observations):
    assert await search_ids(client, "Observation", ("code", "10230-1")) == ["nosys", "sys"]


async def test_system_and_code(client, observations):
    assert await search_ids(client, "Observation", ("code", f"{LOINC}|10230-1")) == ["sys"]
    assert await search_ids(client, "Observation", ("code", f"{SNOMED}|10230-1")) == []


async def test_code_without_a_system(client, observations):
    assert await search_ids(client, "Observation", ("code", "|10230-1")) == ["nosys"]


async def test_system_only(client, observations):
    assert await search_ids(client, "Observation", ("code", f"{LOINC}|")) == ["bp", "sys"]
    assert await search_ids(client, "Observation", ("code", f"{SNOMED}|")) == ["sys"]


async def test_codes_are_case_sensitive(client, observations):
    await put_resource(client, {"resourceType": "Patient", "id": "m", "gender": "male"})

    assert await search_ids(client, "Patient", ("gender", "male")) == ["m"]
    assert await search_ids(client, "Patient", ("gender", "Male")) == []


async def test_comma_ors_and_repeats_and(client, observations):
    assert await search_ids(
        client, "Observation", ("code", f"{LOINC}|79991-6,{SNOMED}|250908004")
    ) == [
        "bp",
        "sys",
    ]
    assert await search_ids(
        client, "Observation", ("code", f"{LOINC}|10230-1"), ("code", f"{SNOMED}|250908004")
    ) == ["sys"]
    assert await search_ids(client, "Observation", ("code", "79991-6"), ("code", "10230-1")) == []


async def test_text_matches_display_and_concept_text_ignoring_case_and_accents(
    client, observations
):
    assert await search_ids(client, "Observation", ("code:text", "ejection fraction")) == [
        "bp",
        "sys",
    ]
    assert await search_ids(client, "Observation", ("code:text", "SAO PAULO")) == ["nosys"]
    assert await search_ids(client, "Observation", ("code:text", "wrist")) == ["textonly"]


async def test_not_includes_resources_without_a_value(client, observations):
    assert await search_ids(client, "Observation", ("code:not", "10230-1")) == [
        "bp",
        "textonly",
    ]
    assert await search_ids(client, "Observation", ("code:not", f"{LOINC}|10230-1,79991-6")) == [
        "nosys",
        "textonly",
    ]


async def test_missing(client):
    await put_resource(client, {"resourceType": "Patient", "id": "f", "gender": "female"})
    await put_resource(client, {"resourceType": "Patient", "id": "x"})

    assert await search_ids(client, "Patient", ("gender:missing", "true")) == ["x"]
    assert await search_ids(client, "Patient", ("gender:missing", "false")) == ["f"]
    assert await search_ids(client, "Patient", ("gender:not", "male")) == ["f", "x"]


async def test_boolean_token(client):
    await put_resource(client, {"resourceType": "Patient", "id": "a", "active": True})
    await put_resource(client, {"resourceType": "Patient", "id": "i", "active": False})
    await put_resource(client, {"resourceType": "Patient", "id": "u"})

    assert await search_ids(client, "Patient", ("active", "true")) == ["a"]
    assert await search_ids(client, "Patient", ("active", "false")) == ["i"]
    assert await search_ids(client, "Patient", ("active:not", "true")) == ["i", "u"]


async def test_of_type_identifier(client):
    mr = {"coding": [{"system": V2_0203, "code": "MR"}], "text": "Hospital number"}
    await put_resource(
        client,
        {
            "resourceType": "Patient",
            "id": "h",
            "identifier": [{"type": mr, "system": "https://x.nhs.uk/mrn", "value": "123"}],
        },
    )
    await put_resource(
        client,
        {"resourceType": "Patient", "id": "n", "identifier": [{"system": "s", "value": "123"}]},
    )

    assert await search_ids(client, "Patient", ("identifier:of-type", f"{V2_0203}|MR|123")) == ["h"]
    assert await search_ids(client, "Patient", ("identifier:of-type", f"{V2_0203}|MR|124")) == []
    assert await search_ids(client, "Patient", ("identifier:of-type", f"{V2_0203}|DL|123")) == []
    assert await search_ids(client, "Patient", ("identifier:text", "hospital")) == ["h"]


async def test_telecom_contact_point(client):
    await put_resource(
        client,
        {
            "resourceType": "Patient",
            "id": "t",
            "telecom": [{"system": "phone", "value": "020 7188 7188"}],
        },
    )

    assert await search_ids(client, "Patient", ("phone", "020 7188 7188")) == ["t"]
    assert await search_ids(client, "Patient", ("telecom", "020 7188 7188")) == ["t"]


async def test_unsupported_modifier_is_400(client):
    response = await client.get("Patient", params={"identifier:below": "x"})

    assert_outcome(response, 400, "invalid", "':below' is not supported", "identifier:below")


async def test_escaped_separators_in_codes(client):
    await put_resource(client, observation("odd", {"system": "urn:a|b", "code": "x,y"}))

    assert await search_ids(client, "Observation", ("code", "urn:a\\|b|x\\,y")) == ["odd"]
    assert await search_ids(client, "Observation", ("code", "x\\,y")) == ["odd"]
