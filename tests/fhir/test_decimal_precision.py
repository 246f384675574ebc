"""FHIR decimals keep the precision the client wrote (1.50 stays 1.50)."""

from __future__ import annotations


def _observation(value: str) -> bytes:
    return (
        b'{"resourceType":"Observation","status":"final",'
        b'"code":{"coding":[{"system":"http://loinc.org","code":"10230-1"}]},'
        b'"valueQuantity":{"value":' + value.encode() + b',"unit":"%",'
        b'"system":"http://unitsofmeasure.org","code":"%"}}'
    )


async def test_trailing_zeros_and_exponents_survive_create_and_read(client):
    for text in ("55.0", "1.50", "6.020e2", "0.12345678901234567890"):
        created = await client.post(
            "Observation",
            content=_observation(text),
            headers={"Content-Type": "application/fhir+json"},
        )
        assert created.status_code == 201, created.text
        read = await client.get(f"Observation/{created.json()['id']}")
        assert f'"value":{text},'.encode() in read.content


async def test_precision_survives_patch_and_pretty_output(client):
    created = await client.post(
        "Observation",
        content=_observation("1.50"),
        headers={"Content-Type": "application/fhir+json"},
    )
    res_id = created.json()["id"]
    patched = await client.patch(
        f"Observation/{res_id}",
        content=b'[{"op":"replace","path":"/status","value":"amended"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 200
    assert b'"value":1.50,' in patched.content
    pretty = await client.get(f"Observation/{res_id}", params={"_pretty": "true"})
    assert b'"value": 1.50' in pretty.content


async def test_a_decimal_where_an_integer_is_required_is_rejected(client):
    text = b'{"resourceType":"Patient","multipleBirthInteger":2.0,"name":[{"family":"Okafor"}]}'
    response = await client.post(
        "Patient", content=text, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Patient.multipleBirth.ofType(integer)"]


async def test_json_that_is_not_strict_json_is_rejected(client):
    for body in (
        b'{"resourceType":"Patient","multipleBirthInteger":NaN}',
        b'{"resourceType":"Patient",}',
        b'{"resourceType":"Patient","name":[{"family":"\xff"}]}',
        b'{"resourceType":"Patient"} trailing',
    ):
        response = await client.post(
            "Patient", content=body, headers={"Content-Type": "application/fhir+json"}
        )
        assert response.status_code == 400, body
        issue = response.json()["issue"][0]
        assert issue["code"] == "structure"
        assert "not valid JSON" in issue["diagnostics"]
