"""$validate (R4 Resource-validate) over HTTP, on the real validator and profiles/build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "profiles" / "examples"
MV = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/"
REFERRAL = MV + "MV-Referral"
SEVERITY_RANK = {"fatal": 0, "error": 1, "warning": 2, "information": 3}
EXPECTED_INVALID: dict[str, Any] = json.loads((EXAMPLES / "invalid" / "expected.json").read_text())


def expected_issues(name: str) -> list[dict[str, str]]:
    entry = EXPECTED_INVALID[name]
    found: list[dict[str, str]] = entry["issues"] if isinstance(entry, dict) else entry
    return found


def example(kind: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / kind / name).read_text())
    return data


def parameters(resource: dict[str, Any] | None = None, **values: str) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    if resource is not None:
        params.append({"name": "resource", "resource": resource})
    for name, value in values.items():
        key = "valueCode" if name == "mode" else "valueUri"
        params.append({"name": name, key: value})
    return {"resourceType": "Parameters", "parameter": params}


def narrated_organization() -> dict[str, Any]:
    """Conforms to base R4 without even a warning: narrative present (dom-6)."""
    return {
        "resourceType": "Organization",
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Royal Brompton Hospital</div>',
        },
        "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RYJ"}],
        "active": True,
        "name": "Royal Brompton Hospital",
    }


def issues_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    found: list[dict[str, Any]] = body["issue"]
    return found


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    return [i for i in issues_of(response) if i["severity"] in ("error", "fatal")]


def reports_missing(issues: list[dict[str, Any]], root: str, element: str) -> bool:
    """An error about an absent ``element``: reported on its parent (as the HL7 validator
    does, naming the element) or on the element itself."""
    return any(
        i["severity"] == "error"
        and (
            f"{root}.{element}" in i.get("expression", ())
            or (root in i.get("expression", ()) and element in i["diagnostics"])
        )
        for i in issues
    )


# --- the verdict: always a 200 OperationOutcome ---------------------------------------------


async def test_a_conforming_resource_gets_a_single_no_issues_information(client):
    response = await client.post("Organization/$validate", json=parameters(narrated_organization()))
    assert response.status_code == 200, response.text
    assert issues_of(response) == [
        {"severity": "information", "code": "informational", "diagnostics": "No issues found"}
    ]


async def test_the_bare_resource_is_accepted_as_the_body(client):
    response = await client.post("Organization/$validate", json=narrated_organization())
    assert response.status_code == 200
    assert issues_of(response)[0]["diagnostics"] == "No issues found"


@pytest.mark.parametrize("name", sorted(p.name for p in (EXAMPLES / "valid").glob("*.json")))
async def test_every_valid_example_conforms_to_its_profile(client, name):
    resource = example("valid", name)
    response = await client.post(f"{resource['resourceType']}/$validate", json=resource)
    assert response.status_code == 200
    assert errors_of(response) == [], response.text


@pytest.mark.parametrize("name", sorted(EXPECTED_INVALID))
async def test_every_invalid_example_is_caught_where_expected(client, name):
    resource = example("invalid", name)
    response = await client.post(f"{resource['resourceType']}/$validate", json=resource)
    assert response.status_code == 200
    found = {(i["severity"], e) for i in issues_of(response) for e in i.get("expression", ())}
    for expected in expected_issues(name):
        assert (expected["severity"], expected["expression"]) in found, response.text


async def test_the_profile_parameter_validates_against_that_profile(client):
    resource = example("valid", "MV-Referral.json")
    del resource["meta"]
    del resource["authoredOn"]
    plain = await client.post("ServiceRequest/$validate", json=parameters(resource))
    assert not reports_missing(errors_of(plain), "ServiceRequest", "authoredOn"), plain.text
    profiled = await client.post(
        "ServiceRequest/$validate", json=parameters(resource, profile=REFERRAL)
    )
    assert profiled.status_code == 200
    assert reports_missing(errors_of(profiled), "ServiceRequest", "authoredOn"), profiled.text


async def test_the_profile_may_come_in_the_query_string(client):
    resource = example("invalid", "MV-Referral-no-authored-on.json")
    del resource["meta"]
    response = await client.post(f"ServiceRequest/$validate?profile={REFERRAL}", json=resource)
    assert errors_of(response), response.text


async def test_issues_come_worst_first(client):
    resource = example("invalid", "MV-Referral-no-authored-on.json")
    resource.pop("text", None)  # add a dom-6 warning to the errors
    response = await client.post("ServiceRequest/$validate", json=resource)
    ranks = [SEVERITY_RANK[i["severity"]] for i in issues_of(response)]
    assert ranks == sorted(ranks)
    assert {"error", "warning"} <= {i["severity"] for i in issues_of(response)}


async def test_a_structurally_broken_resource_is_a_200_with_its_errors(client):
    resource = {"resourceType": "Patient", "birthDate": "14/03/1948", "colour": "blue"}
    response = await client.post("Patient/$validate", json=resource)
    assert response.status_code == 200
    expressions = {e for i in errors_of(response) for e in i.get("expression", ())}
    assert {"Patient.birthDate", "Patient.colour"} <= expressions, response.text


# --- instance level and modes ---------------------------------------------------------------


async def created(client, resource: dict[str, Any]) -> str:
    response = await client.post(resource["resourceType"], json=resource)
    assert response.status_code == 201, response.text
    res_id: str = response.json()["id"]
    return res_id


async def test_get_on_an_instance_validates_the_stored_resource(client):
    organization = narrated_organization()
    del organization["identifier"]  # valid R4, but MV-Organization needs the ODS code
    res_id = await created(client, organization)
    response = await client.get(f"Organization/{res_id}/$validate")
    assert issues_of(response)[0]["diagnostics"] == "No issues found"
    against = await client.get(
        f"Organization/{res_id}/$validate", params={"profile": MV + "MV-Organization"}
    )
    assert against.status_code == 200
    assert errors_of(against), against.text


async def test_an_instance_post_without_a_resource_validates_the_stored_one(client):
    res_id = await created(client, narrated_organization())
    response = await client.post(f"Organization/{res_id}/$validate", json=parameters())
    assert issues_of(response)[0]["diagnostics"] == "No issues found"


async def test_mode_delete_is_200_for_a_stored_resource_and_404_for_a_missing_one(client):
    res_id = await created(client, narrated_organization())
    ok = await client.post(f"Organization/{res_id}/$validate", json=parameters(mode="delete"))
    assert ok.status_code == 200
    assert issues_of(ok)[0]["severity"] == "information"
    missing = await client.post("Organization/no-such-org/$validate?mode=delete")
    assert missing.status_code == 404
    assert issues_of(missing)[0]["code"] == "not-found"


async def test_mode_delete_needs_an_instance(client):
    response = await client.post("Organization/$validate", json=parameters(mode="delete"))
    assert response.status_code == 400
    assert "instance" in issues_of(response)[0]["diagnostics"] or "[id]" in response.text


async def test_mode_update_needs_the_id_of_the_instance(client):
    resource = narrated_organization()
    no_id = await client.post("Organization/$validate", json=parameters(resource, mode="update"))
    assert [i["expression"] for i in errors_of(no_id)] == [["Organization.id"]]
    resource["id"] = "rbh"
    other = await client.post(
        "Organization/royal-brompton/$validate", json=parameters(resource, mode="update")
    )
    assert other.status_code == 200
    assert "differs" in errors_of(other)[0]["diagnostics"]
    same = await client.post("Organization/rbh/$validate", json=parameters(resource, mode="update"))
    assert errors_of(same) == []


# --- requests the operation cannot act on ---------------------------------------------------


async def test_an_unknown_profile_is_a_404_naming_it(client):
    url = MV + "MV-Nothing"
    response = await client.post(
        "Organization/$validate", json=parameters(narrated_organization(), profile=url)
    )
    assert response.status_code == 404
    assert url in issues_of(response)[0]["diagnostics"]


async def test_a_profile_of_another_type_is_a_400(client):
    response = await client.post(
        "Organization/$validate", json=parameters(narrated_organization(), profile=REFERRAL)
    )
    assert response.status_code == 400
    assert "ServiceRequest" in issues_of(response)[0]["diagnostics"]


async def test_an_extension_definition_is_not_a_profile(client):
    url = MV + "Extension-MV-CurrentStage"
    response = await client.post(
        f"CarePlan/$validate?profile={url}", json={"resourceType": "CarePlan"}
    )
    assert response.status_code == 400


async def test_a_value_set_url_is_not_a_structure_definition(client):
    url = "https://fhir.southlondon-mitral.nhs.uk/ValueSet/referral-codes"
    response = await client.post(
        "ServiceRequest/$validate",
        json=parameters(example("valid", "MV-Referral.json"), profile=url),
    )
    assert response.status_code == 400
    assert "not a StructureDefinition" in issues_of(response)[0]["diagnostics"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"Patient"', "JSON object"),
        (b'{"name": [{"family": "Okonkwo"}]}', "no resourceType"),
        (b'{"resourceType": "Pateint"}', "not a FHIR R4 resource type"),
        (b'{"resourceType": "Organization"}', "is a Organization"),
        (b'{"resourceType": "Parameters", "parameter": "resource"}', "must be an array"),
        (b'{"resourceType": "Parameters", "parameter": [{"resource": {}}]}', "with a name"),
        (b'{"resourceType": "Parameters", "parameter": [{"name": "resource"}]}', "resource"),
        (b'{"resourceType": "Parameters", "parameter": [{"name": "mode", "valueCode": "x"}]}', "x"),
    ],
)
async def test_a_body_that_is_no_patient_is_a_400(client, body, fragment):
    response = await client.post(
        "Patient/$validate", content=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 400, response.text
    assert fragment in issues_of(response)[0]["diagnostics"]


async def test_type_level_get_says_to_post_the_resource(client):
    response = await client.get("Patient/$validate")
    assert response.status_code == 400
    assert "POST" in issues_of(response)[0]["diagnostics"]


async def test_mode_profile_needs_a_profile(client):
    response = await client.post(
        "Patient/$validate", json=parameters({"resourceType": "Patient"}, mode="profile")
    )
    assert response.status_code == 400


MALFORMED: list[Any] = [
    {"resourceType": "ServiceRequest", "identifier": "UBRN"},
    {"resourceType": "ServiceRequest", "meta": {"profile": REFERRAL}},
    {"resourceType": "ServiceRequest", "meta": {"profile": [42]}},
    {"resourceType": "ServiceRequest", "meta": {"profile": [REFERRAL]}, "category": [None]},
    {"resourceType": "ServiceRequest", "meta": {"profile": [REFERRAL]}, "identifier": [[]]},
    {"resourceType": "ServiceRequest", "meta": {"profile": [REFERRAL]}, "code": {"coding": {}}},
    {"resourceType": "ServiceRequest", "subject": {"reference": 7}, "status": 1, "intent": []},
    {"resourceType": "ServiceRequest", "contained": [{"resourceType": "Nope"}, "x", None]},
    {"resourceType": "ServiceRequest", "extension": [{"url": None, "valueString": {}}]},
    {"resourceType": "ServiceRequest", "text": {"status": "generated", "div": "<p>unclosed"}},
    {"resourceType": "ServiceRequest", "id": "not an id!", "authoredOn": "yesterday"},
    {"resourceType": "ServiceRequest", "a" * 300: True, "_status": {"extension": 1}},
]


@pytest.mark.parametrize("resource", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
async def test_malformed_resources_get_an_outcome_never_a_500(client, resource):
    for profile in (None, REFERRAL):
        response = await client.post(
            "ServiceRequest/$validate",
            json=parameters(resource, **({"profile": profile} if profile else {})),
        )
        assert response.status_code == 200, response.text
        assert errors_of(response), response.text


async def test_the_capability_statement_declares_validate_for_every_type(client):
    statement = (await client.get("metadata")).json()
    for resource in statement["rest"][0]["resource"]:
        names = {o["name"]: o["definition"] for o in resource.get("operation", [])}
        assert names.get("validate") == (
            "http://hl7.org/fhir/OperationDefinition/Resource-validate"
        ), resource["type"]


# --- the public validator corpus, over HTTP -------------------------------------------------

FTC = ROOT / "tests" / "fixtures" / "ftc-validator"
FTC_CASES: list[dict[str, Any]] = json.loads((FTC / "cases.json").read_text("utf-8"))


@pytest.mark.parametrize("case", FTC_CASES, ids=[c["name"] for c in FTC_CASES])
async def test_validate_gives_the_validators_verdict_on_every_corpus_case(client, app, case):
    """$validate adds nothing to and loses nothing from the validator's verdict, and a file
    that is not a resource is a 400, one over the body limit a 413 (never a 500)."""
    raw = (FTC / case["file"]).read_bytes()
    try:
        resource = json.loads(raw.decode("utf-8-sig"))
    except ValueError:
        resource = None
    res_type = resource.get("resourceType") if isinstance(resource, dict) else None
    path = f"{res_type if isinstance(res_type, str) and res_type else 'Basic'}/$validate"
    response = await client.post(
        path, content=raw, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code in (200, 400, 413), response.text
    if response.status_code == 200:
        direct = await app.state.fhir.validator.validate(resource)
        expected = any(i.severity in ("error", "fatal") for i in direct)
        assert bool(errors_of(response)) == expected, response.text
