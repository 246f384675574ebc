"""A patient's stored resources grouped into episodes, and each episode's facts.

Pure and order-blind: the resources are deduplicated and sorted (instant, kind, reference)
before anything else, so the same set in any arrival order gives the same episodes.

Grouping. A referral received while no episode is open starts one; a referral received while
one is open (another centre's, an inter-provider transfer: RTT 21) joins it. An episode is
closed to new referrals once it has ended (an exit, a medical-therapy decision, a completed
follow-up after treatment, a discharge, death) or when all its referrals are revoked or
entered in error. Every other event joins the latest episode that started on or before it
(events before the first referral join the first episode); with no referral at all, the
episode is anchored on the earliest event.

Facts of an episode, from its live resources (cancelled, revoked, not-done and
entered-in-error ones are listed as activities but never counted):
* decision: the latest completed MDT with a deciding outcome (further investigation and
  deferral decide nothing); without one, the modality of the intervention request or of the
  procedure. declined-by-patient and not-suitable are exits unless treatment followed;
* treated: the first procedure done (completed, in progress or stopped);
* a clinic or echo after treatment is follow-up; a completed follow-up visit ends the episode,
  and it is discharged when all its referrals are closed too (or on an explicit discharge);
* death (Patient.deceasedDateTime) while the episode runs ends it, as exit ``died`` when
  before treatment;
* current stage: the furthest reached, an exit above everything.

Derivation runs for the patients of every ingested message, so the per-patient work is done
once (the patient's own facts, each resource's ``Fact``, an episode's course when grouping
already worked it out) and each episode's facts are gathered in one pass over its events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from app.ingest.mapping.engine import stable_id
from app.pathway import codes, rtt
from app.pathway.facts import Fact, code_in, extension_code, fact
from app.pathway.facts import procedure_modality as modality_of
from app.pathway.model import Activity, Episode
from app.pathway.moments import instant, london_day

_DECISION_OF_MODALITY = {
    "surgery": "decision-surgery",
    "minimal-access-surgery": "decision-minimal-access-surgery",
    "transcatheter-repair": "decision-transcatheter-repair",
    "transcatheter-replacement": "decision-transcatheter-replacement",
}
_VISITS = ("clinic", "follow-up")
_FOLLOW = (*_VISITS, "echo")
_ENDING = ("mdt", "procedure", "discharge")
"""The kinds of live fact without which only death ends an episode (``_course``: a decision
not to treat, a completed visit after treatment, a discharge)."""
_BY_KEY = attrgetter("key")
_BY_REF = attrgetter("ref")


@dataclass(slots=True)
class _Person:
    """What every episode of a patient copies from the Patient: read once per derivation."""

    id: str
    sex: Any
    birth_date: Any
    area: str | None
    dead: bool
    death_day: str | None

    @classmethod
    def of(cls, patient: dict[str, Any]) -> _Person:
        dead, death_day = _death(patient)
        gender, birth_date = patient.get("gender"), patient.get("birthDate")
        return cls(str(patient.get("id")), gender, birth_date, _area(patient), dead, death_day)


def derive(patient: dict[str, Any], resources: Sequence[dict[str, Any]]) -> list[Episode]:
    """Every episode of ``patient``; none for a Patient merged into another."""
    if merged_away(patient):
        return []
    facts, conditions = _facts(_latest(resources))
    person = _Person.of(patient)
    return [
        _episode(person, number, group, course, conditions)
        for number, (group, course) in enumerate(_group(person, facts), start=1)
    ]


def merged_away(patient: dict[str, Any]) -> bool:
    """Inactive and replaced: its resources are (or will be) re-pointed at the survivor."""
    return patient.get("active") is False and any(
        link.get("type") == "replaced-by" for link in patient.get("link", []) or []
    )


def _version(resource: dict[str, Any]) -> tuple[int, str, str]:
    meta = resource.get("meta") or {}
    try:
        version = int(meta.get("versionId") or 0)
    except ValueError:
        version = 0
    return (version, str(meta.get("lastUpdated") or ""), repr(sorted(resource.items())))


def _latest(resources: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``Type/id`` -> the newest version of that resource (a correction replaces, never adds)."""
    best: dict[str, dict[str, Any]] = {}
    for r in resources:
        ref = f"{r.get('resourceType')}/{r.get('id')}"
        held = best.get(ref)
        if held is None or _version(r) > _version(held):
            best[ref] = r
    return best


def _facts(latest: dict[str, dict[str, Any]]) -> tuple[list[Fact], list[dict[str, Any]]]:
    """Facts in order (instant, kind, reference), without duplicates: an Appointment that an
    Encounter of the same start records (King's sends both), and a second record of the same
    event (same kind, stage, minute and centre) from another resource; and the Conditions in
    reference order."""
    found: list[Fact] = []
    conditions: list[tuple[str, dict[str, Any]]] = []
    irregular = False
    for ref, r in latest.items():
        f = fact(r, ref)
        if f is not None:
            found.append(f)
            irregular = irregular or f.t is None
        elif r.get("resourceType") == "Condition":
            conditions.append((ref, r))
    if irregular:  # datetimes need not compare transitively: sort from the same start
        found.sort(key=_BY_REF)
        for f in found:
            f.as_datetimes()
    found.sort(key=_BY_KEY)
    encounters = {f.t for f in found if f.ref.startswith("Encounter/")}
    out: list[Fact] = []
    seen: set[tuple[Any, ...]] = set()
    for f in found:
        if encounters and f.t in encounters and f.ref.startswith("Appointment/"):
            continue
        same = (f.kind, f.stage, f.t, f.centre, f.live)
        if same in seen:
            continue
        seen.add(same)
        out.append(f)
    conditions.sort()  # by reference: no two alike
    return out, [r for _, r in conditions]


def _group(person: _Person, facts: list[Fact]) -> list[tuple[list[Fact], _Course | None]]:
    """The episodes' facts, each with its course when deciding that it closed worked it out
    (a closed episode gains nothing more)."""
    groups: list[tuple[list[Fact], _Course | None]] = []
    pending: list[Fact] = []
    for f in facts:
        if f.kind == "referral":
            if not groups:
                groups.append(([*pending, f], None))
                pending = []
                continue
            closed, course = _closed(person, groups[-1][0], f.day)
            if closed:
                groups[-1] = (groups[-1][0], course)
                groups.append(([f], None))
                continue
        if groups:
            groups[-1][0].append(f)
        else:
            pending.append(f)
    if pending:
        groups.append((pending, None))
    return groups


def _closed(person: _Person, group: list[Fact], day: str) -> tuple[bool, _Course | None]:
    """Whether ``group`` is closed to a referral on ``day``, and its course if worked out."""
    refs = [f for f in group if f.kind == "referral"]
    if refs and not any(f.live for f in refs):
        return True, None
    if not person.dead and not any(f.live and f.kind in _ENDING for f in group):
        return False, None  # nothing that could end it: no need to work out its course
    course = _course(person, group)
    return course.ended is not None and course.ended <= day, course


def _death(patient: dict[str, Any]) -> tuple[bool, str | None]:
    at = instant(patient.get("deceasedDateTime"))
    if at is not None:
        return True, london_day(at)
    return patient.get("deceasedBoolean") is True, None


@dataclass(slots=True)
class _Course:
    """How an episode ran, from its facts: all that grouping needs (``ended``), and what the
    rest of an ``Episode`` is built from."""

    referrals: list[Fact]
    live: list[Fact]
    live_refs: list[Fact]
    anchor: Fact
    first_ref: Fact
    first_tx: Fact | None
    treated_at: Any
    """The first treatment's ``Fact.t``."""
    modality: str | None
    repair: bool | None
    follow: list[Fact]
    mdts: list[Fact]
    decision: str | None
    exit_: str | None
    decided: str | None
    scheduled: str | None
    ended: str | None
    discharged: str | None
    death_day: str | None
    died_now: bool


def _sort(group: list[Fact]) -> tuple[list[Fact], list[Fact], dict[str, list[Fact]]]:
    """(referrals, live facts, the live facts of each kind) in one pass."""
    referrals: list[Fact] = []
    live: list[Fact] = []
    by_kind: dict[str, list[Fact]] = {}
    for f in group:
        if f.kind == "referral":
            referrals.append(f)
        if f.live:
            live.append(f)
            same = by_kind.get(f.kind)
            if same is None:
                by_kind[f.kind] = [f]
            else:
                same.append(f)
    return referrals, live, by_kind


def _course(person: _Person, group: list[Fact]) -> _Course:
    referrals, live, by_kind = _sort(group)
    live_refs = by_kind.get("referral", [])
    anchor = (referrals or group)[0]
    procedures = by_kind.get("procedure", [])
    first_tx = next((f for f in procedures if f.stage == "treated"), None)
    treated_at = first_tx.t if first_tx else None
    modality, repair = modality_of(first_tx.resource) if first_tx else (None, None)
    follow, last_visit = _after(live, treated_at)

    mdts = [f for f in by_kind.get("mdt", ()) if f.status == "completed"]
    decision, exit_, decided = _decision(mdts, treated_at)
    requests = by_kind.get("intervention-request", [])
    if decision in (None, "decision"):
        planned = next((m for r in requests if (m := modality_of(r.resource)[0])), None)
        implied = planned or modality
        if implied:
            decision = _DECISION_OF_MODALITY.get(implied, decision)
    booked = [f.day for f in procedures if f.stage == "treatment-scheduled"]
    scheduled = min([f.day for f in requests] + booked) if requests or booked else None

    ended: str | None = None
    discharged: str | None = None
    if exit_ or decision == "decision-medical-therapy":
        ended = decided
    if last_visit is not None:
        ended = last_visit.day
        if all(f.resource.get("status") == "completed" for f in live_refs):
            discharged = ended
    if "discharge" in by_kind:
        ended = discharged = by_kind["discharge"][-1].day

    death_day = person.death_day
    died_now = person.dead and (ended is None or (death_day is not None and death_day < ended))
    died_now = died_now and (death_day is None or death_day >= anchor.day)
    if died_now:
        ended, discharged = death_day, None
        if first_tx is None or (death_day is not None and death_day < first_tx.day):
            exit_ = "died"
    return _Course(
        referrals=referrals,
        live=live,
        live_refs=live_refs,
        anchor=anchor,
        first_ref=live_refs[0] if live_refs else anchor,
        first_tx=first_tx,
        treated_at=treated_at,
        modality=modality,
        repair=repair,
        follow=follow,
        mdts=mdts,
        decision=decision,
        exit_=exit_,
        decided=decided,
        scheduled=scheduled,
        ended=ended,
        discharged=discharged,
        death_day=death_day,
        died_now=died_now,
    )


def _after(live: list[Fact], treated_at: Any) -> tuple[list[Fact], Fact | None]:
    """The follow-up (visits and echoes) after treatment, and its last completed visit."""
    follow: list[Fact] = []
    last_visit: Fact | None = None
    if treated_at is not None:
        for f in live:
            if f.t > treated_at and f.kind in _FOLLOW:
                follow.append(f)
                if f.kind in _VISITS and f.status == "completed":
                    last_visit = f
    return follow, last_visit


def _episode(
    person: _Person,
    number: int,
    group: list[Fact],
    course: _Course | None,
    conditions: list[dict[str, Any]],
) -> Episode:
    c = course or _course(person, group)
    first_ref, first_tx, mdts, exit_ = c.first_ref, c.first_tx, c.mdts, c.exit_

    voided = bool(c.referrals) and not c.live_refs
    status = "active"
    if voided:
        errors = all(f.resource.get("status") == "entered-in-error" for f in c.referrals)
        status = "entered-in-error" if errors else "revoked"
    elif c.ended is not None or c.died_now:
        status = "completed"

    stage = _stage(
        exit_=exit_,
        discharged=c.discharged,
        follow=c.follow,
        first_tx=first_tx,
        scheduled=c.scheduled,
        decision=c.decision,
        live=c.live,
    )
    no_treatment = None
    if c.decided and exit_ in ("declined", "not-suitable"):
        no_treatment = (c.decided, rtt.DECLINED if exit_ == "declined" else rtt.NOT_TREATING)
    elif c.decided and c.decision == "decision-medical-therapy" and first_tx is None:
        no_treatment = (c.decided, rtt.NOT_TREATING)
    clock = rtt.clock(
        voided=voided,
        treated=_admitted(c.live, first_tx),
        followed_up=bool(c.follow),
        no_treatment=no_treatment,
        died=c.death_day if exit_ == "died" else None,
        transferred_last=_transferred_last(c.live, first_ref),
    )
    treated_at = c.treated_at
    activities = [_activity(f, treated_at, voided) for f in group if f.kind != "admission"]
    referral = first_ref.kind == "referral"
    return Episode(
        patient_id=person.id,
        careplan_id=stable_id(f"pathway|{person.id}|{c.anchor.ref}"),
        number=number,
        stage=stage,
        status=status,
        referred=first_ref.day,
        referral_centre=first_ref.centre if referral else None,
        referral_source=code_in(first_ref.resource.get("category"), codes.REFERRAL_SOURCE)
        if referral
        else None,
        mdt=mdts[0].day if mdts else None,
        mdt_centre=mdts[0].centre if mdts else None,
        decision=c.decision,
        treatment_scheduled=c.scheduled,
        treated=first_tx.day if first_tx else None,
        treating_centre=first_tx.centre if first_tx else None,
        modality=c.modality,
        repair=c.repair,
        operator=_operator(first_tx),
        aetiology=_aetiology(mdts, conditions),
        follow_up=c.follow[0].day if c.follow else None,
        discharged=c.discharged,
        ended=c.ended,
        exit=exit_,
        rtt_status=clock.status,
        rtt_stop=clock.stop,
        sex=person.sex,
        birth_date=person.birth_date,
        area=person.area,
        centres=tuple(sorted({f.centre for f in group if f.centre})),
        activities=activities,
    )


def _decision(mdts: list[Fact], treated_at: Any) -> tuple[str | None, str | None, str | None]:
    """(decision, exit, day) of the latest deciding MDT; an exit undone by treatment after it
    is no exit (the patient changed their mind, or the heart team did)."""
    decision = exit_ = day = None
    for f in mdts:
        outcome = extension_code(f.resource, codes.EXT_MDT_OUTCOME)
        if outcome in codes.MDT_DECISION:
            decision, exit_ = codes.MDT_DECISION[outcome]
            day = f.day
            if exit_ and treated_at is not None and treated_at > f.t:
                exit_ = None
    return decision, exit_, day


def _stage(
    *,
    exit_: str | None,
    discharged: str | None,
    follow: list[Fact],
    first_tx: Fact | None,
    scheduled: str | None,
    decision: str | None,
    live: list[Fact],
) -> str:
    if exit_:
        return exit_
    if discharged:
        return "discharged"
    if follow:
        return "follow-up"
    if first_tx:
        return "treated"
    if scheduled:
        return "treatment-scheduled"
    if decision:
        return decision
    kinds = {f.kind for f in live}
    if "mdt" in kinds:
        return "heart-team-review"
    if kinds & {"clinic", "echo"}:
        return "work-up"
    if any(f.stage == "triaged" for f in live):
        return "triaged"
    return "referred"


def _admitted(live: list[Fact], first_tx: Fact | None) -> str | None:
    """For admitted care the clock stops on the day of admission for the procedure: an
    inpatient admission at the treating centre up to three days before it."""
    if first_tx is None:
        return None
    for f in live:
        if f.kind == "admission" and f.centre == first_tx.centre:
            gap = (first_tx.at - f.at).total_seconds()
            if 0 <= gap <= 3 * 86400:
                return f.day
    return first_tx.day


def _transferred_last(live: list[Fact], first_ref: Fact) -> bool:
    return bool(live) and live[-1].kind == "referral" and live[-1].centre != first_ref.centre


def _activity(f: Fact, treated_at: Any, voided: bool) -> Activity:
    kind, stage = f.kind, f.stage
    if treated_at is not None and f.t > treated_at and kind in ("clinic", "echo"):
        kind = "follow-up" if kind == "clinic" else kind
        stage = "follow-up"
    status = f.status
    if voided and status in ("scheduled", "in-progress", "not-started", "on-hold"):
        status = "cancelled"
    return Activity(kind, f.ref, stage, status, f.day, f.centre)


def _operator(first_tx: Fact | None) -> str | None:
    if first_tx is None:
        return None
    for performer in first_tx.resource.get("performer", []) or []:
        ref = (performer.get("actor") or {}).get("reference", "")
        if ref.startswith("Practitioner/"):
            return str(ref)
    return None


def _aetiology(mdts: list[Fact], conditions: list[dict[str, Any]]) -> str | None:
    """The latest MDT's view; else a Condition coded in mr-aetiology."""
    for f in reversed(mdts):
        code = extension_code(f.resource, codes.EXT_MR_AETIOLOGY)
        if code in codes.AETIOLOGY:
            return codes.AETIOLOGY[code]
    for c in conditions:
        code = extension_code(c, codes.EXT_MR_AETIOLOGY) or code_in(
            c.get("code"), codes.MR_AETIOLOGY
        )
        if code in codes.AETIOLOGY:
            return codes.AETIOLOGY[code]
    return None


def _area(patient: dict[str, Any]) -> str | None:
    """Postcode district (outward code): the finest area metrics may show."""
    for address in patient.get("address", []) or []:
        postcode = str(address.get("postalCode") or "").strip().upper()
        if postcode:
            outward = postcode.split()[0] if " " in postcode else postcode[:-3]
            return outward or None
    return None
