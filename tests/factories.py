"""Realistic resources from the regional pathway, for tests (NHS numbers pass mod 11)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from httpx import AsyncClient

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORG = "https://fhir.nhs.uk/Id/ods-organization-code"
GSTT_MRN = "https://fhir.gstt.nhs.uk/Id/mrn"
SNOMED = "http://snomed.info/sct"
OPCS4 = "http://fhir.nhs.uk/CodeSystem/OPCS-4"


def patient(nhs_number: str = "9000000009", family: str = "Okafor", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": NHS_NUMBER, "value": nhs_number},
            {"system": GSTT_MRN, "value": f"H{nhs_number[-6:]}"},
        ],
        "name": [{"use": "official", "family": family, "given": ["Adaeze", "Grace"]}],
        "gender": "female",
        "birthDate": "1948-07-19",
        "address": [
            {"line": ["14 Lambeth Palace Road"], "city": "London", "postalCode": "SE1 7EH"}
        ],
        **extra,
    }


def organization(
    ods: str = "RJ1", name: str = "Guy's and St Thomas' NHS Foundation Trust"
) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "identifier": [{"system": ODS_ORG, "value": ods}],
        "active": True,
        "name": name,
    }


def referral(
    subject: str, requester: str | None = None, local_id: str = "REF-2026-0042"
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "https://fhir.gstt.nhs.uk/Id/referral", "value": local_id}],
        "status": "active",
        "intent": "order",
        "category": [
            {"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}
        ],
        "code": {
            "coding": [
                {"system": SNOMED, "code": "183557002", "display": "Referral to cardiology service"}
            ]
        },
        "reasonCode": [
            {
                "coding": [
                    {"system": SNOMED, "code": "48724000", "display": "Mitral valve regurgitation"}
                ]
            }
        ],
        "subject": {"reference": subject},
        "authoredOn": "2026-10-02T09:30:00+01:00",
    }
    if requester:
        resource["requester"] = {"reference": requester}
    return resource


def procedure(subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "code": {
            "coding": [
                {
                    "system": SNOMED,
                    "code": "865051000000105",
                    "display": "Percutaneous transcatheter mitral valve leaflet clip repair",
                },
                {"system": OPCS4, "code": "K35.8"},
            ]
        },
        "subject": {"reference": subject},
        "performedDateTime": "2026-11-03T14:10:00Z",
    }


# -- helpers shared by the HTTP tests -----------------------------------------------------------

JSON_PATCH_HEADERS = {"Content-Type": "application/json-patch+json"}


def assert_outcome(
    response: Any,
    status: int,
    code: str,
    diagnostics: str | None = None,
    expression: str | None = None,
) -> dict[str, Any]:
    """Assert an error response: its status, and an OperationOutcome issue with ``code``.

    ``diagnostics`` must be a fragment of that issue's diagnostics; ``expression`` must be one of
    its expressions. Returns the matching issue.
    """
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    issues = [i for i in body["issue"] if i["code"] == code]
    assert issues, f"no issue with code {code!r} in {body}"
    for issue in issues:
        if diagnostics is not None and diagnostics not in issue.get("diagnostics", ""):
            continue
        if expression is not None and expression not in issue.get("expression", []):
            continue
        assert issue["severity"] in ("error", "fatal")
        return issue  # type: ignore[no-any-return]
    raise AssertionError(f"no {code!r} issue with {diagnostics!r} at {expression!r} in {body}")


def bundle_of(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def post_entry(
    resource: dict[str, Any], full_url: str | None = None, **request: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def put_entry(resource: dict[str, Any], url: str | None = None, **request: str) -> dict[str, Any]:
    target = url or f"{resource['resourceType']}/{resource['id']}"
    return {"resource": resource, "request": {"method": "PUT", "url": target, **request}}


def request_entry(method: str, url: str, **request: str) -> dict[str, Any]:
    return {"request": {"method": method, "url": url, **request}}


def patch_entry(url: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
    """A PATCH entry: R4 carries a JSON Patch in a Bundle as a Binary."""
    data = base64.b64encode(json.dumps(operations).encode()).decode()
    binary = {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data}
    return {"resource": binary, "request": {"method": "PATCH", "url": url}}


def entry_ids(bundle: dict[str, Any]) -> list[str]:
    """The ids of the match (or history) entries of a Bundle, in order."""
    return [
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if "resource" in e and e.get("search", {}).get("mode", "match") == "match"
    ]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    for item in bundle.get("link", []):
        if item["relation"] == relation:
            return str(item["url"])
    return None


async def all_pages(
    client: Any, url: str, params: Any = None, *, limit: int = 100, relation: str = "next"
) -> list[dict[str, Any]]:
    """GET ``url`` and every page after it through the ``relation`` links (``next``, or
    ``previous`` to walk back); return the Bundles."""
    pages = []
    response = await client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        following = link(page, relation)
        if following is None:
            return pages
        assert len(pages) < limit, "the next links never end"
        response = await client.get(following)


class FakeClock:
    """A settable clock for the app (microseconds since the epoch, millisecond precision)."""

    def __init__(self, start: str = "2026-01-05T09:00:00Z") -> None:
        self.value = self.micros(start)

    @staticmethod
    def micros(moment: str) -> int:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        return int(parsed.timestamp()) * 1_000_000 + parsed.microsecond // 1000 * 1000

    def set(self, moment: str) -> None:
        self.value = self.micros(moment)

    def __call__(self) -> int:
        return self.value


async def put_resource(client: AsyncClient, resource: dict[str, Any]) -> None:
    """Store ``resource`` under its own id (create or update), failing the test otherwise."""
    response = await client.put(f"{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in (200, 201), response.text


async def search_ids(client: AsyncClient, url: str, *pairs: tuple[str, str]) -> list[str]:
    """The matched ids of a search, sorted (for set comparisons)."""
    response = await client.get(url, params=list(pairs))
    assert response.status_code == 200, response.text
    return sorted(entry_ids(response.json()))
