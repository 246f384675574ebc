"""Episodes from what the centres send: grouping, stages, RTT, and order-blindness."""

from __future__ import annotations

import copy
import random
import uuid
from pathlib import Path
from typing import Any

import yaml

from app.ingest.mapping.engine import NAMESPACE
from app.pathway import codes, rtt
from app.pathway.derive import derive
from app.pathway.model import Episode
from tests.pathway import builders as b

ROOT = Path(__file__).resolve().parents[2]


def _only(episodes: list[Episode]) -> Episode:
    assert len(episodes) == 1, episodes
    return episodes[0]


def test_a_journey_across_three_centres() -> None:
    pat = b.patient()
    resources = b.regional_journey(pat)
    ep = _only(derive(pat, resources))
    first_referral = resources[0]

    assert ep.careplan_id == str(
        uuid.uuid5(NAMESPACE, f"pathway|{pat['id']}|ServiceRequest/{first_referral['id']}")
    )
    assert (ep.number, ep.status, ep.stage) == (1, "completed", "discharged")
    assert (ep.referred, ep.referral_centre, ep.referral_source) == (
        "2025-01-06",
        "RJZ01",
        "dgh-cardiology",
    )
    assert (ep.mdt, ep.mdt_centre, ep.decision) == (
        "2025-02-10",
        "RJ122",
        "decision-transcatheter-repair",
    )
    assert ep.treatment_scheduled == "2025-02-10"
    assert (ep.treated, ep.treating_centre, ep.modality, ep.repair) == (
        "2025-03-24",
        "R1H",
        "transcatheter-repair",
        True,
    )
    assert ep.operator == "Practitioner/c-okonjo"
    assert ep.aetiology == "secondary"
    assert (ep.follow_up, ep.discharged, ep.ended, ep.exit) == (
        "2025-05-12",
        "2025-05-12",
        "2025-05-12",
        None,
    )
    assert (ep.rtt_status, ep.rtt_stop) == ("90", "2025-03-24")
    assert (ep.sex, ep.birth_date, ep.area) == ("male", "1940-01-06", "SW17")
    assert ep.centres == ("R1H", "RJ122", "RJZ01")
    kinds = [(a.kind, a.stage, a.centre) for a in ep.activities]
    assert kinds == [
        ("referral", "referred", "RJZ01"),
        ("clinic", "work-up", "RJZ01"),
        ("referral", "referred", "RJ122"),
        ("mdt", "heart-team-review", "RJ122"),
        ("intervention-request", "treatment-scheduled", "RJ122"),
        ("referral", "referred", "R1H"),
        ("procedure", "treatment-scheduled", "R1H"),
        ("procedure", "treated", "R1H"),
        ("follow-up", "follow-up", "RJZ01"),
    ]


def test_the_same_resources_in_any_order_give_the_same_episodes() -> None:
    pat = b.patient()
    resources = [
        *b.regional_journey(pat),
        b.referral(pat, "st-thomas", "GST-REF-000900", "2025-09-01T09:00:00+01:00"),
        b.mdt(pat, "st-thomas", "GST-ENC-000900", "2025-10-06T11:00:00+01:00", "medical-therapy"),
    ]
    expected = derive(pat, resources)
    rng = random.Random(7)
    for _ in range(20):
        shuffled = list(resources)
        rng.shuffle(shuffled)
        assert derive(pat, shuffled) == expected
    assert [e.stage for e in expected] == ["discharged", "decision-medical-therapy"]


def test_duplicates_count_once() -> None:
    pat = b.patient()
    resources = b.regional_journey(pat)
    follow_up = resources[-1]
    kings_copy = b.kings_appointment(
        pat, "KCH-APT-000102", follow_up["period"]["start"], "71001", "fulfilled"
    )
    twice = resources + copy.deepcopy(resources) + [kings_copy]
    ep = _only(derive(pat, twice))
    assert ep == _only(derive(pat, resources))
    assert len(ep.activities) == 9
    assert not any(a.reference.startswith("Appointment/") for a in ep.activities)


def test_a_corrected_procedure_date_replaces_the_first() -> None:
    pat = b.patient()
    resources = b.regional_journey(pat)
    wrong = b.procedure(pat, "BHC-PROC-000301", "2025-03-23T08:15:00+00:00", version=1)
    fixed = b.procedure(pat, "BHC-PROC-000301", "2025-03-25T08:15:00+00:00", version=2)
    corrected = [r for r in resources if r["resourceType"] != "Procedure"]
    for order in ([wrong, fixed], [fixed, wrong]):
        ep = _only(derive(pat, corrected + order))
        assert ep.treated == "2025-03-25"
        # admitted care: the clock stops on the admission the day before the procedure
        assert (ep.rtt_status, ep.rtt_stop) == ("90", "2025-03-24")
        assert [a.date for a in ep.activities if a.stage == "treated"] == ["2025-03-25"]


def test_a_cancelled_order_and_procedure_are_listed_but_not_treatment() -> None:
    pat = b.patient()
    resources = b.regional_journey(pat)[:5]
    order = resources[4]
    order["status"] = "revoked"
    resources += [
        b.procedure(pat, "BHC-PROC-000302", "2025-03-24T08:15:00+00:00", status="not-done"),
        b.kings_appointment(
            pat, "KCH-APT-000103", "2025-04-02T09:00:00+01:00", "40130", "cancelled"
        ),
    ]
    ep = _only(derive(pat, resources))
    assert (ep.stage, ep.status) == ("decision-transcatheter-repair", "active")
    assert (ep.treated, ep.treatment_scheduled, ep.modality) == (None, None, None)
    assert (ep.rtt_status, ep.rtt_stop) == ("20", None)
    cancelled = [(a.kind, a.status) for a in ep.activities if a.status == "cancelled"]
    assert cancelled == [
        ("intervention-request", "cancelled"),
        ("procedure", "cancelled"),
        ("procedure", "cancelled"),
    ]


def test_a_revoked_only_referral_revokes_the_episode() -> None:
    pat = b.patient()
    ref = b.referral(pat, "st-georges", "SG-REF-000501", "2024-01-08", status="revoked")
    ep = _only(derive(pat, [ref]))
    assert (ep.status, ep.stage, ep.referred) == ("revoked", "referred", "2024-01-08")
    assert (ep.rtt_status, ep.rtt_stop) == (None, None)
    assert [(a.kind, a.status) for a in ep.activities] == [("referral", "cancelled")]

    ref["status"] = "entered-in-error"
    ep = _only(derive(pat, [ref]))
    assert ep.status == "entered-in-error"
    assert [a.status for a in ep.activities] == ["entered-in-error"]


def test_a_revoked_referral_beside_a_live_one_changes_nothing() -> None:
    pat = b.patient()
    resources = b.regional_journey(pat)
    resources[2]["status"] = "revoked"  # the transfer to St Thomas' was withdrawn
    ep = _only(derive(pat, resources))
    assert (ep.status, ep.stage, ep.referred) == ("completed", "discharged", "2025-01-06")


def test_death_before_treatment_is_an_exit() -> None:
    pat = b.patient(deceasedDateTime="2025-03-01T23:30:00+00:00")
    resources = b.regional_journey(pat)[:5]
    ep = _only(derive(pat, resources))
    assert (ep.stage, ep.exit, ep.status) == ("died", "died", "completed")
    assert ep.ended == "2025-03-01"
    assert (ep.rtt_status, ep.rtt_stop) == ("36", "2025-03-01")


def test_death_after_treatment_ends_the_episode_without_an_exit() -> None:
    pat = b.patient(deceasedDateTime="2025-04-10T04:00:00+01:00")
    resources = b.regional_journey(pat)[:-1]
    ep = _only(derive(pat, resources))
    assert (ep.stage, ep.exit, ep.ended, ep.status) == ("treated", None, "2025-04-10", "completed")
    assert (ep.rtt_status, ep.rtt_stop) == ("30", "2025-03-24")


def test_an_mdt_exit_stops_the_clock() -> None:
    pat = b.patient()
    ref = b.referral(pat, "st-thomas", "GST-REF-000601", "2024-06-09T12:15:00+01:00")
    meeting = b.mdt(
        pat,
        "st-thomas",
        "GST-ENC-000601",
        "2024-07-15T17:45:00+01:00",
        "not-suitable",
        aetiology="mixed",
    )
    ep = _only(derive(pat, [ref, meeting]))
    assert (ep.stage, ep.exit, ep.decision, ep.ended) == (
        "not-suitable",
        "not-suitable",
        None,
        "2024-07-15",
    )
    assert (ep.rtt_status, ep.rtt_stop, ep.aetiology) == ("34", "2024-07-15", "mixed")

    declined = b.mdt(
        pat, "st-thomas", "GST-ENC-000601", "2024-07-15T17:45:00+01:00", "declined-by-patient"
    )
    ep = _only(derive(pat, [ref, declined]))
    assert (ep.stage, ep.decision, ep.rtt_status) == ("declined", "decision-declined", "35")


def test_a_new_referral_after_a_finished_episode_starts_episode_two() -> None:
    pat = b.patient()
    first = b.regional_journey(pat)
    again = b.referral(pat, "kings", "KCH-REF-000150", "2026-02-02T09:00:00+00:00")
    second_mdt = b.mdt(
        pat, "st-thomas", "GST-ENC-000250", "2026-03-02T11:00:00+00:00", "conventional-surgery"
    )
    one, two = derive(pat, [second_mdt, *first, again])
    assert (one.number, one.stage, one.ended) == (1, "discharged", "2025-05-12")
    assert (two.number, two.status, two.stage) == (2, "active", "decision-surgery")
    assert (two.referred, two.mdt, two.rtt_status) == ("2026-02-02", "2026-03-02", "20")
    assert two.careplan_id == str(
        uuid.uuid5(NAMESPACE, f"pathway|{pat['id']}|ServiceRequest/{again['id']}")
    )
    assert one.careplan_id != two.careplan_id


def test_a_transfer_while_open_joins_the_episode_and_keeps_the_clock() -> None:
    pat = b.patient()
    resources = b.regional_journey(pat)[:3]
    ep = _only(derive(pat, resources))
    assert (ep.referred, ep.stage, ep.rtt_status, ep.rtt_stop) == (
        "2025-01-06",
        "work-up",
        "21",
        None,
    )


def test_a_merged_away_patient_has_no_episodes() -> None:
    survivor = b.patient("9990000700")
    pat = b.patient(
        active=False,
        link=[{"other": {"reference": f"Patient/{survivor['id']}"}, "type": "replaced-by"}],
    )
    assert derive(pat, b.regional_journey(pat)) == []


def test_without_a_referral_the_earliest_event_anchors_the_episode() -> None:
    pat = b.patient()
    proc = b.procedure(pat, "BHC-PROC-000401", "2025-03-24T08:15:00+00:00")
    ep = _only(derive(pat, [proc]))
    assert (ep.referred, ep.referral_centre, ep.stage, ep.treated) == (
        "2025-03-24",
        None,
        "treated",
        "2025-03-24",
    )
    assert ep.careplan_id == str(
        uuid.uuid5(NAMESPACE, f"pathway|{pat['id']}|Procedure/{proc['id']}")
    )


def test_minimal_access_surgery_is_told_by_approach_or_y74() -> None:
    pat = b.patient()
    ref = b.referral(pat, "kings", "KCH-REF-000700", "2026-01-05T09:00:00+00:00")
    mis = [{"system": b.OPCS4, "code": "K25.5"}, {"system": b.OPCS4, "code": "Y74"}]
    proc = b.procedure(
        pat,
        "KCH-PROC-000700",
        "2026-03-31T13:45:00+01:00",
        centre_ods="RJZ",
        trust="RJZ",
        codes=mis,
        approach=None,
    )
    ep = _only(derive(pat, [ref, proc]))
    assert (ep.modality, ep.repair, ep.treating_centre, ep.decision) == (
        "minimal-access-surgery",
        True,
        "RJZ01",
        "decision-minimal-access-surgery",
    )
    replaced = b.procedure(
        pat,
        "KCH-PROC-000700",
        "2026-03-31T13:45:00+01:00",
        centre_ods="RJZ",
        trust="RJZ",
        codes=[{"system": b.OPCS4, "code": "K25.4"}],
        approach="sternotomy",
    )
    assert _only(derive(pat, [ref, replaced])).modality == "surgery"
    assert _only(derive(pat, [ref, replaced])).repair is False


def test_rtt_clock_takes_the_first_stop() -> None:
    assert rtt.clock(
        voided=False,
        treated=None,
        followed_up=False,
        no_treatment=None,
        died=None,
        transferred_last=False,
    ) == rtt.Clock("20", None)
    assert rtt.clock(
        voided=False,
        treated="2025-03-01",
        followed_up=False,
        no_treatment=("2025-02-01", "34"),
        died=None,
        transferred_last=False,
    ) == rtt.Clock("34", "2025-02-01")
    assert rtt.clock(
        voided=True,
        treated="2025-03-01",
        followed_up=True,
        no_treatment=None,
        died=None,
        transferred_last=False,
    ) == rtt.Clock(None, None)


def test_the_centre_table_matches_the_mappings() -> None:
    for path in sorted((ROOT / "mappings").glob("*.yaml")):
        spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        centre = next(c for c in codes.CENTRES if c.slug == spec["centre"])
        assert (centre.trust, centre.site) == (spec["ods"]["organization"], spec["ods"].get("site"))
        hosts = {url.removeprefix("https://").split("/")[0] for url in spec["identifiers"].values()}
        assert hosts == {centre.domain}
