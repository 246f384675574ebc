"""Rendered episodes are MV-Pathway CarePlans the project's own validator accepts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.pathway.careplan import render
from app.pathway.derive import derive
from app.terminology.local import LocalTerminology
from app.validation.profiles import ProfileRegistry
from app.validation.validator import Validator
from tests.pathway import builders as b

ROOT = Path(__file__).resolve().parents[2]
PATHWAY = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/MV-Pathway"
STAGE = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/pathway-stage"


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(
        ProfileRegistry.from_directory(ROOT / "profiles" / "build"),
        LocalTerminology.from_directory(ROOT / "terminology"),
    )


def _journey() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pat = b.patient()
    return pat, b.regional_journey(pat)


def _revoked() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pat = b.patient()
    return pat, [b.referral(pat, "st-georges", "SG-REF-000501", "2024-01-08", status="revoked")]


def _died() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pat = b.patient(deceasedDateTime="2025-03-01T23:30:00+00:00")
    return pat, b.regional_journey(pat)[:5]


def _running() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pat = b.patient()
    return pat, b.regional_journey(pat)[:7]


def _no_referral() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pat = b.patient()
    return pat, [b.procedure(pat, "BHC-PROC-000401", "2025-03-24T08:15:00+00:00")]


CASES: dict[str, Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]]] = {
    "journey": _journey,
    "revoked": _revoked,
    "died": _died,
    "running": _running,
    "no-referral": _no_referral,
}


def _careplans(case: str) -> list[dict[str, Any]]:
    pat, resources = CASES[case]()
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    return [render(e, f"Patient/{pat['id']}", by_ref) for e in derive(pat, resources)]


@pytest.mark.parametrize("case", sorted(CASES))
async def test_rendered_careplans_validate(validator: Validator, case: str) -> None:
    careplans = _careplans(case)
    assert careplans
    for careplan in careplans:
        issues = await validator.validate(careplan, profiles=[PATHWAY])
        assert [i for i in issues if i.severity in ("error", "fatal", "warning")] == []


def test_a_careplan_carries_stage_centres_period_and_activities() -> None:
    pat, resources = _journey()
    episode = derive(pat, resources)[0]
    careplan = render(episode, f"Patient/{pat['id']}")
    assert careplan["id"] == episode.careplan_id
    assert careplan["meta"]["profile"] == [PATHWAY]
    assert careplan["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "discharged"
    assert (careplan["status"], careplan["intent"]) == ("completed", "plan")
    assert careplan["category"][0]["coding"][0]["code"] == "734163000"
    assert careplan["subject"] == {"reference": f"Patient/{pat['id']}"}
    assert careplan["period"] == {"start": "2025-01-06", "end": "2025-05-12"}
    assert [
        (c["identifier"]["system"].rsplit("/", 1)[1], c["identifier"]["value"])
        for c in careplan["contributor"]
    ] == [
        ("ods-organization-code", "R1H"),
        ("ods-site-code", "RJ122"),
        ("ods-site-code", "RJZ01"),
    ]
    first = careplan["activity"][0]
    assert first["outcomeReference"] == [{"reference": f"ServiceRequest/{resources[0]['id']}"}]
    assert first["detail"]["code"]["coding"][0] == {
        "system": STAGE,
        "code": "referred",
        "display": "Referred",
    }
    assert first["detail"]["status"] == "completed"
    assert first["detail"]["scheduledPeriod"] == {"start": "2025-01-06"}
    treated = [
        a for a in careplan["activity"] if a["detail"]["code"]["coding"][0]["code"] == "treated"
    ]
    assert [a["outcomeReference"][0]["reference"].split("/")[0] for a in treated] == ["Procedure"]
    assert all("reference" not in a for a in careplan["activity"])


def test_a_running_episode_has_no_period_end_and_the_referral_conditions_as_addresses() -> None:
    (careplan,) = _careplans("running")
    assert careplan["status"] == "active"
    assert "end" not in careplan["period"]
    assert (
        careplan["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
        == "treatment-scheduled"
    )
    assert len(careplan["addresses"]) == 3


def test_a_revoked_episode_lists_its_referral_as_cancelled() -> None:
    (careplan,) = _careplans("revoked")
    assert careplan["status"] == "revoked"
    assert [a["detail"]["status"] for a in careplan["activity"]] == ["cancelled"]
