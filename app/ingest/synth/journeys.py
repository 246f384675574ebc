"""One patient's pathway across the network, as a list of centre events.

A journey is drawn first (who refers, which hub's MDT discusses, what it decides, who
treats), then each step becomes an ``Event`` at the centre that records it, with the time it
happened and the time the centre's system sent it. The feed writers only render events, so
realism lives here: right-skewed waits, ages by modality, cross-centre referrals, second
MDTs, cancellations, corrections, duplicate registrations merged later, deaths.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from app.ingest.synth import centres
from app.ingest.synth.changes import corrected, died, merged
from app.ingest.synth.model import (
    CUTOFF,
    LAST_REFERRAL,
    START,
    Appointment,
    Event,
    Ids,
    Order,
    Procedure,
    Referral,
    at_work,
    later,
    lognormal_days,
    mrn,
    pick,
)
from app.ingest.synth.people import Person, make_person

INTERVENTIONS = (
    "conventional-surgery",
    "minimal-access-surgery",
    "transcatheter-repair",
    "transcatheter-replacement",
)
SECOND_LOOK = ("further-investigation", "deferred")
# (outcome, weight) by disease; a second-look outcome is followed by another MDT.
OUTCOME_WEIGHTS: dict[str, tuple[tuple[str, float], ...]] = {
    "primary": (
        ("conventional-surgery", 0.30),
        ("minimal-access-surgery", 0.17),
        ("transcatheter-repair", 0.22),
        ("transcatheter-replacement", 0.03),
        ("medical-therapy", 0.12),
        ("further-investigation", 0.04),
        ("deferred", 0.03),
        ("declined-by-patient", 0.04),
        ("not-suitable", 0.05),
    ),
    "secondary": (
        ("conventional-surgery", 0.12),
        ("minimal-access-surgery", 0.05),
        ("transcatheter-repair", 0.38),
        ("transcatheter-replacement", 0.06),
        ("medical-therapy", 0.25),
        ("further-investigation", 0.05),
        ("declined-by-patient", 0.04),
        ("not-suitable", 0.05),
    ),
    "tr": (
        ("conventional-surgery", 0.22),
        ("transcatheter-repair", 0.45),
        ("medical-therapy", 0.20),
        ("further-investigation", 0.03),
        ("declined-by-patient", 0.05),
        ("not-suitable", 0.05),
    ),
    "msmr": (
        ("conventional-surgery", 0.50),
        ("minimal-access-surgery", 0.08),
        ("transcatheter-replacement", 0.15),
        ("medical-therapy", 0.17),
        ("declined-by-patient", 0.05),
        ("not-suitable", 0.05),
    ),
}
# Age at referral (mean, sd) by final outcome: TEER patients are older than surgical ones.
AGE_BY_OUTCOME: dict[str, tuple[float, float]] = {
    "conventional-surgery": (64.0, 9.0),
    "minimal-access-surgery": (60.0, 9.0),
    "transcatheter-repair": (74.5, 7.0),
    "transcatheter-replacement": (76.0, 7.0),
    "medical-therapy": (79.0, 8.0),
    "declined-by-patient": (81.0, 7.0),
    "not-suitable": (83.0, 6.0),
}
SOURCES = (("GP", 0.55), ("DGH", 0.28), ("INPT", 0.06), ("SURV", 0.06), ("TERT", 0.03))
SOURCES_OTHER = ("OTH", "SURG")


class JourneyBuilder:
    """Draws journeys one patient at a time, sharing identifier counters."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids = Ids()

    def journey(self, index: int) -> list[Event]:
        rng = self.rng
        disease, aetiology, reason_key = self._disease()
        outcomes = self._outcomes(disease)
        final = outcomes[-1]
        mean, sd = AGE_BY_OUTCOME[final]
        age = max(35, min(97, round(rng.gauss(mean, sd))))
        day = START + dt.timedelta(days=rng.randrange((LAST_REFERRAL - START).days))
        sex = "male" if rng.random() < (0.58 if final.startswith("trans") else 0.52) else "female"
        person = make_person(rng, index, age, sex, day)
        steps = _Steps(
            self,
            person=person,
            index=index,
            disease=disease,
            aetiology=aetiology,
            reason_key=reason_key,
            outcomes=outcomes,
        )
        events = steps.run(at_work(day, rng))
        events = self._afterwards(events, person, index)
        return [e for e in events if e.sent <= CUTOFF]

    def _disease(self) -> tuple[str, str | None, str]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.10:
            return "tr", None, centres.R_TR
        if roll < 0.15:
            return "msmr", "primary", centres.R_MSMR
        aetiology = pick(
            rng,
            (
                ("primary", 0.55),
                ("secondary-ventricular", 0.22),
                ("secondary-atrial", 0.10),
                ("secondary", 0.06),
                ("mixed", 0.07),
            ),
        )
        if aetiology.startswith("secondary"):
            return "secondary", aetiology, centres.R_MR_SECONDARY
        reason = centres.R_MVP if aetiology == "primary" and rng.random() < 0.4 else centres.R_MR
        return "primary", aetiology, reason

    def _outcomes(self, disease: str) -> list[str]:
        outcomes = [pick(self.rng, OUTCOME_WEIGHTS[disease])]
        if outcomes[0] in SECOND_LOOK:
            final = tuple((o, w) for o, w in OUTCOME_WEIGHTS[disease] if o not in SECOND_LOOK)
            outcomes.append(pick(self.rng, final))
        return outcomes

    def _afterwards(self, events: list[Event], person: Person, index: int) -> list[Event]:
        """Deaths, corrected demographics and merged duplicates, applied to a drawn journey."""
        rng = self.rng
        if not events:
            return events
        if rng.random() < 0.02:
            events = died(rng, events)
        if rng.random() < 0.04:
            events = corrected(rng, events, person)
        hl7 = [e for e in events if centres.CENTRES[e.centre].feed == "hl7v2"]
        if hl7 and rng.random() < 0.04:
            events = merged(rng, events, hl7[0], index)
        return sorted(events, key=lambda e: e.sent)


class _Steps:
    """The pathway of one patient, step by step (kept apart to keep each step short)."""

    def __init__(
        self,
        builder: JourneyBuilder,
        *,
        person: Person,
        index: int,
        disease: str,
        aetiology: str | None,
        reason_key: str,
        outcomes: list[str],
    ) -> None:
        self.rng = builder.rng
        self.ids = builder.ids
        self.person = person
        self.index = index
        self.disease = disease
        self.aetiology = aetiology
        self.reason_key = reason_key
        self.outcomes = outcomes
        self.events: list[Event] = []

    def emit(
        self, kind: str, centre: str, at: dt.datetime, sent: dt.datetime, **kw: object
    ) -> None:
        self.events.append(
            Event(kind, centre, at, sent, self.person, mrn(centre, self.index), **kw)  # type: ignore[arg-type]
        )

    def run(self, received: dt.datetime) -> list[Event]:
        rng = self.rng
        home = pick(rng, centres.HOME_WEIGHTS)
        hub = home if home in centres.HUBS else pick(rng, centres.MDT_HUB_FOR[home])
        if self.disease == "tr" and centres.TV_REPAIR not in centres.CENTRES[hub].procedures:
            # this heart team has no tricuspid surgery on its list: it decides transcatheter
            self.outcomes = [
                "transcatheter-repair" if o == "conventional-surgery" else o for o in self.outcomes
            ]
        source = pick(rng, SOURCES) if rng.random() < 0.97 else rng.choice(SOURCES_OTHER)
        ref = self.referral(home, received, source, None)
        self.referral_events(ref)
        seen = self.first_clinic(ref)
        if rng.random() < 0.03:
            rejected = later(rng, received, 3, 15)
            self.emit("referral", home, rejected, rejected, status="rejected", referral=ref)
            return self.events
        hub_ref = ref
        if hub != home:
            onward = later(rng, seen, 2, 14)
            if home == "st-georges":
                moved = replace(ref, referred_to=centres.CENTRES[hub].site)
                self.emit("referral", home, onward, onward, status="referred-on", referral=moved)
                ref = moved
            hub_ref = self.referral(hub, later(rng, onward, 1, 5), "NET", home)
            self.referral_events(hub_ref)
        decided = self.mdts(hub, hub_ref, max(seen, hub_ref.received))
        final = self.outcomes[-1]
        closing = [ref] if hub_ref is ref else [ref, hub_ref]
        if final not in INTERVENTIONS:
            self.close(closing, later(rng, decided, 7, 21))
            return self.events
        order = self.order(hub, hub_ref, decided, final)
        if rng.random() < 0.04:
            cancelled = later(rng, decided, 7, 28)
            self.emit("order", hub, cancelled, cancelled, status="cancelled", order=order)
            self.close(closing, later(rng, cancelled, 1, 7))
            return self.events
        done = self.treatment(order, hub)
        self.close(closing, done)
        return self.events

    def referral(
        self, centre: str, received: dt.datetime, source: str, sender: str | None
    ) -> Referral:
        rng = self.rng
        site = centres.CENTRES[centre]
        if sender is not None:
            org = centres.CENTRES[sender]
            ods, org_name = org.trust, org.name
        elif source == "GP":
            ods, org_name = (
                f"{rng.choice(centres.GP_PREFIXES)}{rng.randint(1, 999):03d}",
                rng.choice(centres.GP_PRACTICES),
            )
        else:
            ods, org_name = rng.choice(centres.DGH_TRUSTS), "Cardiology department"
        referrer = rng.choice(centres.CONSULTANTS)
        return Referral(
            id=self.ids.next(centre, "REF"),
            centre=centre,
            received=received,
            source=source,
            referrer_ods=ods,
            referrer_org=org_name,
            referrer=referrer,
            reason=rng.choice(site.reasons[self.reason_key]),
            priority="urgent" if rng.random() < 0.12 else "routine",
            ubrn=f"{rng.randrange(10**12):012d}" if source == "GP" and sender is None else None,
            aetiology=self.aetiology,
        )

    def referral_events(self, ref: Referral) -> None:
        rng = self.rng
        sent = ref.received + dt.timedelta(minutes=rng.randint(5, 240))
        self.emit("referral", ref.centre, ref.received, sent, status="pending", referral=ref)
        feed = centres.CENTRES[ref.centre].feed
        if ref.centre == "kings":
            registered = later(rng, ref.received, 0.5, 3)
            self.emit("registration", "kings", registered, registered, status="O")
        if feed == "hl7v2":
            triaged = later(rng, ref.received, 2, 10)
            self.emit("referral", ref.centre, triaged, triaged, status="accepted", referral=ref)

    def first_clinic(self, ref: Referral) -> dt.datetime:
        """The first valve clinic at the receiving centre (when it reports clinics)."""
        start = later(self.rng, ref.received, 7, 7 + lognormal_days(self.rng, 14))
        self.appointment(ref.centre, "valve", start, ref.id)
        return start

    def appointment(
        self,
        centre: str,
        kind: str,
        start: dt.datetime,
        for_id: str,
        *,
        sent: dt.datetime | None = None,
        code: str | None = None,
        **mdt: str | None,
    ) -> None:
        """A clinic, MDT or procedure booking; ``sent`` only for bookings (sent ahead),
        otherwise the centre reports it once it took place."""
        site = centres.CENTRES[centre]
        code = code or site.clinics.get(kind)
        if code is None or site.feed == "csv":
            return
        appt = Appointment(
            id=self.ids.next(centre, "APT" if site.feed == "hl7v2" else "ENC"),
            centre=centre,
            kind=kind,
            code=code,
            start=start,
            minutes={"valve": 20, "mdt": 15}.get(kind, 120),
            for_id=for_id,
            **mdt,  # type: ignore[arg-type]
        )
        status = "booked" if sent is not None else "complete"
        sent = sent or later(self.rng, start, 0, 2)
        self.emit("appointment", centre, start, sent, status=status, appointment=appt)

    def mdts(self, hub: str, ref: Referral, after: dt.datetime) -> dt.datetime:
        """The heart-team discussion(s), some weeks after the patient was seen or referred
        on; a second-look outcome (further investigation, deferred) brings a second MDT."""
        rng = self.rng
        when = later(rng, after, 7, 7 + lognormal_days(rng, 18, 0.55))
        for outcome in self.outcomes:
            self.appointment(
                hub,
                "mdt",
                when,
                ref.id,
                outcome=outcome,
                aetiology=self.aetiology,
                severity=rng.choice(("SEV", "SEV", "SEV", "MODSEV")),
                note=rng.choice(("TOE & CT reviewed", "Echo reviewed", "Frailty assessed", "")),
            )
            last = when
            when = later(rng, when, 28, 56)
        return last

    def order(self, hub: str, ref: Referral, decided: dt.datetime, outcome: str) -> Order:
        rng = self.rng
        modality = _modality(rng, outcome, self.disease, self.aetiology)
        code_modality = _codable(hub, modality)
        if code_modality is None:  # run() keeps decisions to what the hub can order
            raise ValueError(f"{hub} has no local code to order {modality}")
        places = centres.treating_centres(modality)
        treat = hub if hub in places and rng.random() < 0.7 else rng.choice(places)
        order = Order(
            id=self.ids.next(hub, "ORD"),
            centre=hub,
            referral_id=ref.id,
            decided=decided + dt.timedelta(hours=1),
            code=rng.choice(centres.CENTRES[hub].procedures[code_modality]),
            modality=modality,
            treat_centre=treat,
            approach=_approach(rng, modality),
            device=_device(rng, modality),
            consultant=rng.choice(centres.CONSULTANTS),
        )
        self.emit("order", hub, order.decided, order.decided, status="new", order=order)
        return order

    def treatment(self, order: Order, hub: str) -> dt.datetime:
        rng = self.rng
        treat = order.treat_centre
        site = centres.CENTRES[treat]
        if treat != hub and site.feed not in ("csv",):
            self.referral_events(self.referral(treat, later(rng, order.decided, 2, 7), "NET", hub))
        surgical = order.modality in (
            centres.MV_REPAIR,
            centres.MV_REPLACE,
            centres.MV_REPAIR_MIS,
            centres.MV_REPLACE_MIS,
            centres.TV_REPAIR,
        )
        wait = lognormal_days(rng, 63 if surgical else 49, 0.55)
        start = later(rng, order.decided, wait, wait + 3).replace(hour=rng.choice((8, 9, 10, 13)))
        code = rng.choice(site.procedures[order.modality])
        if treat == "royal-brompton" and code == "RBH-TEER" and start.date() < dt.date(2024, 7, 1):
            code = "RT3-MCLIP"
        if site.feed == "hl7v2":
            booked = later(rng, order.decided, 1, min(14, wait / 2))
            self.appointment(treat, "procedure", start, order.id, sent=booked, code=code)
        admitted = start - dt.timedelta(hours=rng.choice((2, 2, 26)))
        stay = rng.randint(5, 12) if surgical else rng.randint(1, 3)
        discharged = (start + dt.timedelta(days=stay)).replace(hour=rng.randint(10, 16))
        approach = order.approach
        if order.modality == centres.TMVR:  # the code says how the valve went in
            approach = "TA" if code in ("TMVR-TA", "HF/MV/TMVR/TA") else "TS"
        proc = Procedure(
            id=self.ids.next(treat, "PROC"),
            centre=treat,
            code=code,
            modality=order.modality,
            start=start,
            admitted=admitted,
            discharged=discharged,
            visit=self.ids.next(treat, "V"),
            approach=approach,
            device=order.device,
            order_id=order.id,
            hub_site=centres.CENTRES[hub].site,
            outcome="stopped" if rng.random() < 0.01 else "completed",
            consultant=rng.choice(centres.CONSULTANTS),
        )
        if treat == "barts":
            self.emit("admission", treat, admitted, admitted, status="I", procedure=proc)
        sent = _procedure_sent(rng, site.feed, proc)
        if site.feed == "csv" and rng.random() < 0.08:  # keyed wrongly, revised next extract
            wrong = replace(proc, start=proc.start - dt.timedelta(days=1))
            self.emit("procedure", treat, wrong.start, sent, procedure=wrong)
            sent += dt.timedelta(days=rng.randint(28, 31))
        self.emit("procedure", treat, start, sent, procedure=proc)
        follow = later(rng, discharged, 42, 84)
        self.appointment(treat, "valve", follow, order.id)
        return follow

    def close(self, referrals: list[Referral], when: dt.datetime) -> None:
        for ref in referrals:
            self.emit("referral", ref.centre, when, when, status="closed", referral=ref)


def _procedure_sent(rng: random.Random, feed: str, proc: Procedure) -> dt.datetime:
    if feed == "hl7v2":
        return proc.discharged + dt.timedelta(minutes=rng.randint(10, 120))
    if feed == "csv":  # monthly extract, taken early on the 1st of the next month
        first = (proc.start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        return first.replace(hour=6, minute=0)
    return later(rng, proc.start, 0, 3)


def _modality(rng: random.Random, outcome: str, disease: str, aetiology: str | None) -> str:
    if disease == "tr":
        if outcome == "conventional-surgery":
            return centres.TV_REPAIR
        return centres.TV_TEER if rng.random() < 0.7 else centres.TV_TRANSCATHETER
    if outcome == "transcatheter-repair":
        return centres.MV_TEER
    if outcome == "transcatheter-replacement":
        return centres.TMVR
    repair = 0.0 if disease == "msmr" else {"primary": 0.8, "mixed": 0.5}.get(aetiology or "", 0.4)
    if outcome == "minimal-access-surgery":
        mis_repair = 0.0 if disease == "msmr" else 0.85
        return centres.MV_REPAIR_MIS if rng.random() < mis_repair else centres.MV_REPLACE_MIS
    return centres.MV_REPAIR if rng.random() < repair else centres.MV_REPLACE


def _codable(hub: str, modality: str) -> str | None:
    """The modality the hub can put on its order (its own code list), falling back from
    minimal access to the open procedure code and between tricuspid transcatheter codes."""
    fallback = {
        centres.MV_REPAIR_MIS: centres.MV_REPAIR,
        centres.MV_REPLACE_MIS: centres.MV_REPLACE,
        centres.TV_TRANSCATHETER: centres.TV_TEER,
        centres.TV_TEER: centres.TV_TRANSCATHETER,
    }
    codes = centres.CENTRES[hub].procedures
    if modality in codes:
        return modality
    alternative = fallback.get(modality)
    return alternative if alternative in codes else None


def _approach(rng: random.Random, modality: str) -> str | None:
    if modality in (centres.MV_REPAIR, centres.MV_REPLACE, centres.TV_REPAIR):
        return "STERN"
    if modality in (centres.MV_REPAIR_MIS, centres.MV_REPLACE_MIS):
        return "MINI" if rng.random() < 0.7 else "THOR"
    if modality == centres.MV_TEER:
        return "TS"
    if modality == centres.TMVR:
        return "TA" if rng.random() < 0.3 else "TS"
    return None


def _device(rng: random.Random, modality: str) -> str | None:
    if modality == centres.MV_TEER:
        return "CLIP"
    if modality in (centres.TMVR, centres.MV_REPLACE, centres.MV_REPLACE_MIS):
        return "PROS"
    if modality in (centres.MV_REPAIR, centres.MV_REPAIR_MIS) and rng.random() < 0.7:
        return "RING"
    return None
