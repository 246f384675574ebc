"""The query table: a fixed pathway dataset and a few hundred searches with their exact results.

``dataset/pathway-bundle.json`` and ``dataset/queries.json`` come from
``dataset/build_dataset.py`` (regenerate both with it; never edit them by hand). Each test
loads the dataset with one transaction and runs one feature group, reporting every failing
query id at once. A group whose feature the server does not offer yet (a parameter missing
from the CapabilityStatement, or a probe search answered "not supported") is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from httpx import AsyncClient, QueryParams, Response

DATASET = Path(__file__).parent / "dataset"
BUNDLE = (DATASET / "pathway-bundle.json").read_bytes()
QUERIES: list[dict[str, Any]] = json.loads((DATASET / "queries.json").read_text("utf-8"))
STRICT = {"Prefer": "handling=strict"}
RESULT_PARAMETERS = {"_count", "_total", "_summary", "_elements", "_sort", "_include"}
RESULT_PARAMETERS |= {"_revinclude", "_id", "_lastUpdated", "_has", "_cursor"}

# Feature groups: the probes (searches that must not be answered "not supported") that tell
# whether the engine offers the feature yet. Parameters used by the group's queries must also
# be in the CapabilityStatement.
GROUPS: dict[str, list[str]] = {
    "basic": [],
    "errors": [],
    "string": ["Patient?name=a", "Patient?name:exact=a", "Patient?name:contains=a"],
    "token": ["Patient?gender=female", "Patient?gender:not=male", "Condition?code:text=a"],
    "date": ["Patient?birthdate=sa1950", "Procedure?date=ap2026"],
    "number": ["RiskAssessment?probability=gt1"],
    "quantity": ["Observation?value-quantity=ap1", "Observation?value-quantity=1||%"],
    "reference": ["ServiceRequest?subject:Patient=x", "ServiceRequest?subject:identifier=a|b"],
    "uri": ["CarePlan?instantiates-uri:below=http://a", "CarePlan?instantiates-uri:above=http://a"],
    "composite": ["Observation?code-value-quantity=a|b$1"],
    "missing": ["Patient?birthdate:missing=true", "Patient?name:missing=true"],
    "chain": ["ServiceRequest?subject:Patient.name=a", "ServiceRequest?subject.name=a"],
    "has": ["Patient?_has:Condition:subject:code=a"],
    "include": [
        "ServiceRequest?_include=ServiceRequest:subject",
        "Patient?_revinclude=ServiceRequest:subject",
        "Procedure?_include=Procedure:based-on&_include:iterate=ServiceRequest:subject",
    ],
    "sort": ["Patient?_sort=birthdate", "ServiceRequest?_sort=status,-authored"],
    "elements": ["Patient?_elements=name", "Patient?_summary=true", "Patient?_summary=data"],
    "compartment": ["Patient/x/ServiceRequest"],
    "post": [],
    "errors-engine": [
        "Patient?birthdate=1950",
        "Patient?name=a",
        "Patient?gender:not=male",
        "Observation?value-quantity=1",
        "ServiceRequest?subject:Patient.name=a",
        "Patient?_has:Condition:subject:code=a",
        "Observation?code-value-quantity=a|b$1",
    ],
}
UNSUPPORTED_HINTS = ("not supported", "unsupported", "unknown", "not implemented")


def pairs(query_string: str) -> list[tuple[str, str]]:
    """``a=1&b=2`` as pairs, taken literally (the values in the table contain no & or =)."""
    if not query_string:
        return []
    return [(p.partition("=")[0], p.partition("=")[2]) for p in query_string.split("&")]


def split(query: str) -> tuple[str, list[tuple[str, str]]]:
    path, _, query_string = query.partition("?")
    return path, pairs(query_string)


def searched_type(path: str) -> str:
    return path.rsplit("/", maxsplit=1)[-1]


def used_parameters(row: dict[str, Any]) -> set[tuple[str, str]]:
    """(type, parameter) pairs the query needs advertised in the CapabilityStatement."""
    path, params = split(row["query"])
    params += pairs(row.get("form", ""))
    out = set()
    for name, _ in params:
        base = name.split(":")[0].split(".")[0]
        if base not in RESULT_PARAMETERS:
            out.add((searched_type(path), base))
    return out


async def get(client: AsyncClient, query: str, headers: dict[str, str]) -> Response:
    path, params = split(query)
    return await client.get(path, params=QueryParams(tuple(params)), headers=headers)


async def capability(client: AsyncClient) -> dict[str, set[str]]:
    response = await client.get("metadata")
    assert response.status_code == 200, response.text
    return {
        res["type"]: {p["name"] for p in res.get("searchParam", [])}
        for res in response.json()["rest"][0]["resource"]
    }


def _not_applied(probe: str, response: Response) -> list[str]:
    """Parameters of ``probe`` missing from the self link: the server did not apply them."""
    links = [x["url"] for x in response.json().get("link", []) if x["relation"] == "self"]
    applied = {name for name, _ in parse_qsl(urlsplit(links[0]).query)} if links else set()
    return [name for name, _ in split(probe)[1] if name not in applied]


def _unsupported(probe: str, response: Response) -> str | None:
    """Why ``response`` says the feature is not there yet, or None."""
    if response.status_code in (404, 405, 501):
        return f"HTTP {response.status_code}"
    if response.status_code == 200 and "?" in probe:
        ignored = _not_applied(probe, response)
        return f"not applied (absent from the self link): {', '.join(ignored)}" if ignored else None
    if response.status_code != 400:
        return None
    try:
        issues = response.json().get("issue", [])
    except ValueError:
        return None
    for issue in issues:
        text = issue.get("diagnostics", "")
        if issue.get("code") == "not-supported" or any(
            h in text.lower() for h in UNSUPPORTED_HINTS
        ):
            return f"HTTP 400: {text}"
    return None


async def skip_unless_supported(client: AsyncClient, group: str, rows: list[dict[str, Any]]):
    advertised = await capability(client)
    missing = sorted(
        f"{res_type}.{name}"
        for row in rows
        if "status" not in row and not row.get("lenient")
        for res_type, name in used_parameters(row)
        if name not in advertised.get(res_type, set())
    )
    if group == "errors-engine":
        missing = []
    if missing:
        pytest.skip(
            f"{group}: not in the CapabilityStatement yet: {', '.join(sorted(set(missing)))}"
        )
    for probe in GROUPS[group]:
        reason = _unsupported(probe, await get(client, probe, STRICT))
        if reason:
            pytest.skip(f"{group}: {probe} -> {reason}")


async def load(client: AsyncClient) -> None:
    response = await client.post(
        "", content=BUNDLE, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 200, response.text[:2000]
    for entry in response.json()["entry"]:
        assert entry["response"]["status"].startswith("201"), entry


def _key(entry: dict[str, Any]) -> str:
    return f"{entry['resource']['resourceType']}/{entry['resource']['id']}"


async def _fetch(client: AsyncClient, row: dict[str, Any]) -> Response:
    headers = {} if row.get("lenient") else dict(STRICT)
    if row.get("method") == "POST":
        path, params = split(row["query"])
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return await client.post(
            f"{path}/_search",
            params=QueryParams(tuple(params)),
            content=urlencode(pairs(row["form"])),
            headers=headers,
        )
    return await get(client, row["query"], headers)


def _check_error(row: dict[str, Any], response: Response) -> list[str]:
    if response.status_code != row["status"]:
        return [f"status {response.status_code}, expected {row['status']}: {response.text[:300]}"]
    body = response.json()
    if body.get("resourceType") != "OperationOutcome":
        return [f"not an OperationOutcome: {response.text[:300]}"]
    codes = [i.get("code") for i in body.get("issue", [])]
    return [] if row["code"] in codes else [f"issue codes {codes}, expected {row['code']}"]


def _check_keys(row: dict[str, Any], matches: list[dict[str, Any]]) -> list[str]:
    problems = []
    for entry in matches:
        resource = entry["resource"]
        problems += [f"{_key(entry)} lacks {k}" for k in row.get("keys", []) if k not in resource]
        problems += [f"{_key(entry)} has {k}" for k in row.get("keys_absent", []) if k in resource]
    return problems


async def check(client: AsyncClient, row: dict[str, Any]) -> list[str]:
    """The problems with one query's answer (empty when it is right)."""
    response = await _fetch(client, row)
    if "status" in row:
        return _check_error(row, response)
    pages = []
    while True:
        if response.status_code != 200:
            return [f"status {response.status_code}: {response.text[:300]}"]
        pages.append(response.json())
        following = [x["url"] for x in pages[-1].get("link", []) if x["relation"] == "next"]
        if row.get("first_page") or not following or len(pages) > 100:
            break
        response = await client.get(following[0], headers={} if row.get("lenient") else STRICT)
    entries = [e for page in pages for e in page.get("entry", []) if "resource" in e]
    matches = [e for e in entries if e.get("search", {}).get("mode", "match") == "match"]
    included = [e for e in entries if e.get("search", {}).get("mode") == "include"]
    problems = []
    got = [_key(e) for e in matches]
    if row.get("ordered", True) and got != row["expect"]:
        problems.append(f"got {got}, expected {row['expect']}")
    elif sorted(got) != sorted(row["expect"]):
        problems.append(f"got {sorted(got)}, expected {sorted(row['expect'])}")
    if "included" in row and sorted(_key(e) for e in included) != sorted(row["included"]):
        problems.append(f"included {sorted(_key(e) for e in included)}, expected {row['included']}")
    if "total" in row and pages[0].get("total") != row["total"]:
        problems.append(f"total {pages[0].get('total')}, expected {row['total']}")
    return problems + _check_keys(row, matches)


@pytest.mark.parametrize("group", list(GROUPS))
async def test_query_group(client, group):
    rows = [row for row in QUERIES if row["group"] == group]
    assert rows, f"no queries in group {group}"
    await skip_unless_supported(client, group, rows)
    await load(client)
    failures = []
    for row in rows:
        failures += [f"{row['id']} {row['query']}: {p}" for p in await check(client, row)]
    assert not failures, f"{len(failures)} of {len(rows)} queries wrong:\n" + "\n".join(failures)


def test_every_query_belongs_to_a_group_and_has_a_unique_id():
    assert {row["group"] for row in QUERIES} == set(GROUPS)
    assert len({row["id"] for row in QUERIES}) == len(QUERIES) >= 200


def test_the_dataset_is_a_transaction_of_puts_with_fixed_ids():
    bundle = json.loads(BUNDLE)
    assert bundle["type"] == "transaction"
    urls = [e["request"]["url"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls) >= 300
    assert all(e["request"]["method"] == "PUT" for e in bundle["entry"])
