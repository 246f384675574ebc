"""The facts of one patient episode, derived from the store and rendered as a CarePlan.

Metrics are computed from these facts (one flat row per episode in ``pathway_episode``), not
from CarePlan JSON, so a dashboard query is one indexed aggregate, never a parse per resource.
Dates are ISO ``YYYY-MM-DD`` strings (the calendar day in Europe/London) or None.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STAGE_SYSTEM = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/pathway-stage"

MODALITIES = (
    "surgery",
    "minimal-access-surgery",
    "transcatheter-repair",
    "transcatheter-replacement",
)
"""Treatment modalities, as the pathway-stage decision codes name them without ``decision-``."""


@dataclass(slots=True, unsafe_hash=True)
class Activity:
    """One CarePlan.activity: a stored resource that moved the episode along.

    Never changed once made, but not frozen: a frozen dataclass sets each field through
    ``object.__setattr__`` (10x the cost), and an episode has several. Hashable as before."""

    kind: str
    """referral | clinic | echo | mdt | intervention-request | procedure | follow-up |
    discharge. A clinic before treatment is work-up; after it, a follow-up. A booked procedure
    is kind ``procedure`` with stage ``treatment-scheduled``."""
    reference: str
    """``Type/id`` of the stored resource."""
    stage: str
    """The pathway-stage code this activity stands for."""
    status: str
    """CarePlan.activity.detail.status (scheduled, in-progress, completed, cancelled, ...)."""
    date: str | None
    centre: str | None
    """ODS code of the centre that recorded it."""


@dataclass(slots=True)
class Episode:
    """One referral-to-discharge journey of one regional patient."""

    patient_id: str
    careplan_id: str
    """Deterministic (uuid5 of the patient and the episode's first referral)."""
    number: int
    """1 for the patient's first episode, 2 for the next, ..."""
    stage: str
    """Current pathway-stage code."""
    status: str
    """CarePlan.status: active | completed | revoked | entered-in-error."""
    referred: str
    """Clock start: the date the first referral of the episode was received."""
    referral_centre: str | None
    referral_source: str | None = None
    mdt: str | None = None
    """Date of the first heart-team (MDT) discussion."""
    mdt_centre: str | None = None
    decision: str | None = None
    """A ``decision-*`` pathway-stage code, or None before the MDT decides."""
    treatment_scheduled: str | None = None
    treated: str | None = None
    """Date of the first definitive procedure (the RTT clock stop)."""
    treating_centre: str | None = None
    modality: str | None = None
    """One of MODALITIES for a treated episode."""
    repair: bool | None = None
    """True for repair, False for replacement (None when unknown or not treated)."""
    operator: str | None = None
    """``Practitioner/id`` of the primary performer, when known."""
    aetiology: str | None = None
    """primary | secondary | mixed (mr-aetiology codes), when known."""
    follow_up: str | None = None
    discharged: str | None = None
    ended: str | None = None
    """Date the episode ended (discharge or exit), None while it runs."""
    exit: str | None = None
    """declined | died | not-suitable, when the episode ended that way."""
    rtt_status: str | None = None
    """The RTT status code now (20 running, 21 just transferred, 30 first treatment, 34/35/36
    stopped, 90 after treatment); None for a revoked or erroneous referral (no clock)."""
    rtt_stop: str | None = None
    """The date the RTT clock stopped, None while it runs."""
    sex: str | None = None
    birth_date: str | None = None
    area: str | None = None
    """Area of residence where known (postcode district, e.g. ``SE1``)."""
    centres: tuple[str, ...] = ()
    """ODS codes of every centre that recorded something in the episode, sorted."""
    activities: list[Activity] = field(default_factory=list)
