from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.ingest.synth.people import is_valid_nhs_number
from tests.ingest.synth.conftest import Feeds

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def load(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.read_bytes())
    return result


def nhs_numbers(resource: dict[str, Any]) -> list[str]:
    found = [i["value"] for i in resource.get("identifier", []) if i["system"] == NHS]
    subject = resource.get("subject", {}).get("identifier")
    if subject:
        found.append(subject["value"])
    return found


@pytest.mark.parametrize("slug", ["st-thomas", "royal-brompton"])
def test_bundles_are_transactions_with_the_patient_first(feeds: Feeds, slug: str) -> None:
    entry = feeds.centre(slug)
    invalid = {f for f, _ in feeds.bad(slug, "invalid-nhs-number")}
    assert len(entry["files"]) == entry["units"] == sum(entry["by_kind"].values())
    offsets = set()
    for name in entry["files"]:
        bundle = load(feeds.root / slug / name)
        assert bundle["type"] == "transaction"
        first = bundle["entry"][0]
        assert first["resource"]["resourceType"] == "Patient"
        assert first["request"]["method"] == "PUT"
        numbers = {n for e in bundle["entry"] for n in nhs_numbers(e["resource"])}
        assert len(numbers) == 1
        assert is_valid_nhs_number(numbers.pop()) != (name in invalid)
        for e in bundle["entry"][1:]:
            assert e["resource"]["subject"]["reference"] == first["fullUrl"]
        offsets.add(bundle["timestamp"][19:])
    assert offsets == ({"Z"} if slug == "royal-brompton" else {"+00:00", "+01:00"})


def test_vendor_code_systems_are_the_vendors_own(feeds: Feeds) -> None:
    systems: set[str] = set()
    for name in feeds.centre("st-thomas")["files"]:
        for e in load(feeds.root / "st-thomas" / name)["entry"]:
            resource = e["resource"]
            for element in ("code", "reasonCode", "type"):
                value = resource.get(element)
                for concept in value if isinstance(value, list) else [value] if value else []:
                    systems.update(c["system"] for c in concept["coding"])
    assert systems == {
        "http://epic.gstt.nhs.uk/codes/procedure",
        "http://epic.gstt.nhs.uk/codes/referral-reason",
        "http://epic.gstt.nhs.uk/codes/clinic",
    }


def test_hammersmith_pages_match_the_manifest(feeds: Feeds) -> None:
    entry = feeds.centre("hammersmith")
    invalid = feeds.bad("hammersmith", "invalid-nhs-number")
    counted: dict[str, int] = {}
    versions: dict[str, list[int]] = {}
    for name in entry["files"]:
        page = load(feeds.root / "hammersmith" / name)
        assert page["type"] == "searchset"
        kind = name.split("/")[0]
        last = name == max(f for f in entry["files"] if f.startswith(f"{kind}/"))
        assert any(link["relation"] == "next" for link in page["link"]) != last
        for i, item in enumerate(page["entry"]):
            resource = item["resource"]
            assert resource["resourceType"] == kind
            assert item["fullUrl"].endswith(f"/{kind}/{resource['id']}")
            counted[kind] = counted.get(kind, 0) + 1
            versions.setdefault(resource["id"], []).append(int(resource["meta"]["versionId"]))
            (number,) = nhs_numbers(resource)
            assert is_valid_nhs_number(number) != ((name, f"entry[{i}]") in invalid)
    assert counted == entry["by_kind"]
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
    assert any(len(v) > 1 for v in versions.values())
