"""Vendor FHIR resources as St Thomas' (Epic), Royal Brompton and Hammersmith send them:
their own identifier and code systems, logical references, times with offsets.
``docs/centres.md`` ("FHIR centres") is the reference for every element written here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from app.ingest.synth import centres
from app.ingest.synth.model import Event
from app.ingest.synth.people import Person, invalid_nhs_number
from app.ingest.synth.units import (
    INVALID_DATE,
    INVALID_NHS,
    UNKNOWN_CODE,
    UNKNOWN_DISPLAY,
    impossible_date,
)
from app.ingest.synth.vocabularies import SOURCE_TEXT

LONDON = ZoneInfo("Europe/London")
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORG = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"
UBRN = "https://fhir.nhs.uk/Id/UBRN"
ID_BASE = {
    "GST": "https://fhir.gstt.nhs.uk/Id/",
    "RBH": "https://fhir.rbht.nhs.uk/Id/",
    "IMP": "https://fhir.imperial.nhs.uk/Id/",
    "KCH": "https://fhir.kch.nhs.uk/Id/",
    "BHC": "https://fhir.bartshealth.nhs.uk/Id/",
    "SGH": "https://fhir.stgeorges.nhs.uk/Id/",
}
ID_KIND = {"REF": "referral", "ORD": "order", "ENC": "encounter", "PROC": "procedure"}
REFERRAL_STATUS = {
    "pending": "active",
    "accepted": "active",
    "referred-on": "active",
    "closed": "completed",
    "rejected": "revoked",
}
VENDOR_AETIOLOGY = {
    "primary": "PRIMARY",
    "secondary": "SECONDARY",
    "secondary-ventricular": "SECONDARY_VENTRICULAR",
    "secondary-atrial": "SECONDARY_ATRIAL",
    "mixed": "MIXED",
}


@dataclass(frozen=True)
class Vendor:
    """One FHIR-sending centre's conventions."""

    prefix: str
    procedure: str
    reason: str
    clinic: str
    source: str
    mdt_extension: str | None
    mdt_codes: str | None
    aetiology_extension: str | None
    aetiology_codes: str | None
    utc: bool
    based_on_text: bool  # Procedure.basedOn as display text instead of an identifier

    @property
    def ids(self) -> str:
        return ID_BASE[self.prefix]


EPIC = "http://epic.gstt.nhs.uk"
RBHT = "https://fhir.rbht.nhs.uk/CodeSystem/"
IMPERIAL = "https://fhir.imperial.nhs.uk/"
VENDORS = {
    "st-thomas": Vendor(
        "GST",
        f"{EPIC}/codes/procedure",
        f"{EPIC}/codes/referral-reason",
        f"{EPIC}/codes/clinic",
        f"{EPIC}/codes/referral-source",
        f"{EPIC}/fhir/StructureDefinition/mdt-outcome",
        f"{EPIC}/codes/mdt-outcome",
        f"{EPIC}/fhir/StructureDefinition/mr-aetiology",
        f"{EPIC}/codes/mr-aetiology",
        utc=False,
        based_on_text=False,
    ),
    "royal-brompton": Vendor(
        "RBH",
        f"{RBHT}procedure",
        f"{RBHT}referral-reason",
        f"{RBHT}clinic",
        f"{RBHT}referral-source",
        None,
        None,
        None,
        None,
        utc=True,
        based_on_text=True,
    ),
    "hammersmith": Vendor(
        "IMP",
        f"{IMPERIAL}CodeSystem/cardiology",
        f"{IMPERIAL}CodeSystem/cardiology",
        f"{IMPERIAL}CodeSystem/cardiology",
        f"{IMPERIAL}CodeSystem/referral-source",
        f"{IMPERIAL}StructureDefinition/mdt-outcome",
        f"{IMPERIAL}CodeSystem/mdt-outcome",
        f"{IMPERIAL}StructureDefinition/mr-aetiology",
        f"{IMPERIAL}CodeSystem/mr-aetiology",
        utc=False,
        based_on_text=False,
    ),
}


def instant(moment: dt.datetime, utc: bool) -> str:
    """A centre wall-clock time with its offset (London) or in UTC."""
    aware = moment.replace(tzinfo=LONDON)
    if utc:
        return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return aware.isoformat()


def logical(value: str) -> dict[str, Any]:
    """A reference by business identifier; the issuing centre comes from the id's prefix."""
    prefix, kind = value.split("-")[:2]
    return {"identifier": {"system": ID_BASE[prefix] + ID_KIND[kind], "value": value}}


class Resources:
    """Builds one unit's resources for one vendor; ``bad`` breaks the unit on purpose."""

    def __init__(self, centre: centres.Centre, event: Event, bad: str | None) -> None:
        self.centre = centre
        self.vendor = VENDORS[centre.slug]
        self.event = event
        self.bad = bad

    def when(self, moment: dt.datetime, main: bool = True) -> str:
        if main and self.bad == INVALID_DATE:
            year, month, d = impossible_date(moment.date())
            return f"{year:04d}-{month:02d}-{d:02d}T{moment:%H:%M}:00+00:00"
        return instant(moment, self.vendor.utc)

    def nhs(self, person: Person) -> str:
        return invalid_nhs_number(person.nhs) if self.bad == INVALID_NHS else person.nhs

    def coding(self, system: str, code: str, kind: str) -> dict[str, Any]:
        if self.bad == UNKNOWN_CODE:
            code, display = self.centre.unknown[kind], UNKNOWN_DISPLAY[kind]
        else:
            display = centres.DISPLAYS[code]
        return {"coding": [{"system": system, "code": code, "display": display}]}

    def patient(self, dated: bool) -> dict[str, Any]:
        e, person = self.event, self.event.person
        born = person.birth_date.isoformat()
        if dated and self.bad == INVALID_DATE:
            year, month, d = impossible_date(person.birth_date)
            born = f"{year:04d}-{month:02d}-{d:02d}"
        title = "Mr" if person.sex == "male" else ("Mrs" if person.index % 3 else "Ms")
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "identifier": [
                {"system": NHS_NUMBER, "value": self.nhs(person)},
                {"system": self.vendor.ids + "mrn", "value": e.mrn},
            ],
            "name": [
                {
                    "use": "official",
                    "family": person.family,
                    "given": [person.given],
                    "prefix": [title],
                }
            ],
            "telecom": [
                {"system": "phone", "value": f"020 7946 {person.index % 10000:04d}", "use": "home"}
            ],
            "gender": person.sex,
            "birthDate": born,
            "address": [
                {
                    "use": "home",
                    "line": [person.street],
                    "city": "London",
                    "postalCode": person.postcode,
                }
            ],
        }
        if e.kind == "death":
            resource["deceasedDateTime"] = instant(e.at, self.vendor.utc)
        return resource

    def subject(self, reference: str) -> dict[str, Any]:
        return {
            "reference": reference,
            "identifier": {"system": NHS_NUMBER, "value": self.nhs(self.event.person)},
        }

    def main(self, subject_ref: str) -> dict[str, Any] | None:
        """The event's own resource (None for a Patient-only unit)."""
        kind = self.event.kind
        if kind == "referral":
            return self.referral(subject_ref)
        if kind == "order":
            return self.order(subject_ref)
        if kind == "appointment":
            return self.encounter(subject_ref)
        if kind == "procedure":
            return self.procedure(subject_ref)
        return None

    def referral(self, subject_ref: str) -> dict[str, Any]:
        e = self.event
        ref = e.referral
        assert ref is not None
        identifiers = [{"system": self.vendor.ids + "referral", "value": ref.id}]
        if ref.ubrn:
            identifiers.append({"system": UBRN, "value": ref.ubrn})
        source = {
            "system": self.vendor.source,
            "code": ref.source,
            "display": SOURCE_TEXT[ref.source],
        }
        return {
            "resourceType": "ServiceRequest",
            "identifier": identifiers,
            "status": REFERRAL_STATUS[e.status],
            "intent": "order",
            "category": [{"coding": [source]}],
            "priority": ref.priority,
            "subject": self.subject(subject_ref),
            "authoredOn": self.when(ref.received),
            "requester": {
                "identifier": {"system": ODS_ORG, "value": ref.referrer_ods},
                "display": ref.referrer_org,
            },
            "reasonCode": [self.coding(self.vendor.reason, ref.reason, "reason")],
        }

    def order(self, subject_ref: str) -> dict[str, Any]:
        e = self.event
        order = e.order
        assert order is not None
        treat = centres.CENTRES[order.treat_centre]
        site_system = ODS_ORG if treat.site == treat.trust else ODS_SITE
        return {
            "resourceType": "ServiceRequest",
            "identifier": [{"system": self.vendor.ids + "order", "value": order.id}],
            "basedOn": [logical(order.referral_id)],
            "status": "revoked" if e.status == "cancelled" else "active",
            "intent": "order",
            "code": self.coding(self.vendor.procedure, order.code, "procedure"),
            "subject": self.subject(subject_ref),
            "authoredOn": self.when(order.decided),
            "performer": [
                {"identifier": {"system": site_system, "value": treat.site}, "display": treat.name}
            ],
        }

    def encounter(self, subject_ref: str) -> dict[str, Any]:
        appt = self.event.appointment
        assert appt is not None
        end = appt.start + dt.timedelta(minutes=appt.minutes)
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "identifier": [{"system": self.vendor.ids + "encounter", "value": appt.id}],
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            "type": [self.coding(self.vendor.clinic, appt.code, "clinic")],
            "subject": self.subject(subject_ref),
            "basedOn": [logical(appt.for_id)],
            "period": {"start": self.when(appt.start), "end": self.when(end, main=False)},
        }
        extensions = []
        v = self.vendor
        if appt.outcome and v.mdt_extension and v.mdt_codes:
            code = appt.outcome.upper().replace("-", "_")
            extensions.append(_coded_extension(v.mdt_extension, v.mdt_codes, code))
        if appt.kind == "mdt" and appt.aetiology and v.aetiology_extension and v.aetiology_codes:
            code = VENDOR_AETIOLOGY[appt.aetiology]
            extensions.append(_coded_extension(v.aetiology_extension, v.aetiology_codes, code))
        if extensions:
            resource = {"resourceType": "Encounter", "extension": extensions} | resource
        return resource

    def procedure(self, subject_ref: str) -> dict[str, Any]:
        proc = self.event.procedure
        assert proc is not None
        based_on = (
            {"display": proc.order_id} if self.vendor.based_on_text else logical(proc.order_id)
        )
        return {
            "resourceType": "Procedure",
            "identifier": [{"system": self.vendor.ids + "procedure", "value": proc.id}],
            "basedOn": [based_on],
            "status": proc.outcome,
            "code": self.coding(self.vendor.procedure, proc.code, "procedure"),
            "subject": self.subject(subject_ref),
            "performedDateTime": self.when(proc.start),
        }


def _coded_extension(url: str, system: str, code: str) -> dict[str, Any]:
    return {"url": url, "valueCodeableConcept": {"coding": [{"system": system, "code": code}]}}
