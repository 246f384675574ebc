"""The search benchmark's store: patients with their whole mitral pathway, generated fast.

Per patient, seven resources linked to each other and to the seven centre Organizations:
Patient, ServiceRequest (the referral), Encounter (the MDT meeting, ``basedOn`` the referral),
Observation (the echocardiogram, with components), Condition (mitral regurgitation),
Procedure (``basedOn`` the referral) and CarePlan (addressing the Condition). Dates spread
over 2024-01-01 .. 2026-10-31. Everything comes from one seed, so both backends load
byte-identical Bundles, and the query values (NHS numbers, codes, name prefixes, dates) are
known without reading anything back; only the server-assigned ids are read back from the
transaction responses (entry order = request order).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
MRN = "https://fhir.mitral.nhs.uk/Id/mrn"
SNOMED = "http://snomed.info/sct"
PATHWAY_STAGE = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/pathway-stage"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
PER_PATIENT = 7

CENTRES = (
    ("gstt", "Guy's and St Thomas'"),
    ("bart", "Barts Heart Centre"),
    ("rbh", "Royal Brompton"),
    ("kch", "King's College Hospital"),
    ("ham", "Hammersmith Hospital"),
    ("stg", "St George's"),
    ("hfh", "Harefield Hospital"),
)

FAMILIES = (  # noqa: SIM905 (a list literal of 100 names would take 30 lines)
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
    "Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis James Phillips "
    "Mason Mitchell Rose Davis Rodriguez Cox Alexander Morgan Moore Mills King Adams Garcia "
    "White Harris Lee Martin Allen Young Scott Baker Nelson Hill Campbell Parker Collins "
    "Stewart Okafor Nowak Begum Murphy Hughes Ahmed Ali Singh Kaur Kowalski Osei Mensah "
    "Nguyen Chen Wang Li Zhang Kumar Shah Ward Turner Carter Cooper Morris Bell Bailey "
    "Cook Richardson Howard Fisher Russell Gray Ellis Price Bennett Wood Barnes Ross Henderson "
    "Coleman Jenkins Perry Powell Long Patterson Hughes Flores Butler Simmons Foster Bryant"
).split()
GIVEN = (  # noqa: SIM905
    "Adaeze Grace Tomasz Priya John Megan Rahima Sean Imran Oliver Amelia Harry Isla Jack "
    "Ava Noah Mia Leo Freya Arthur Lily Oscar Emily George Sophie Mohammed Fatima Aisha "
    "Daniel Chloe James Ella William Zara Thomas Ruby Samuel Evie Joseph Hannah"
).split()

# ServiceRequest codes: the referral reasons/requests seen on the pathway (SNOMED CT).
SR_CODES = (
    ("183557002", "Referral to cardiology service"),
    ("306361001", "Referral to cardiac surgeon"),
    ("40701008", "Echocardiography"),
    ("105376000", "Transoesophageal echocardiography"),
    ("433236007", "Transthoracic echocardiography"),
    ("241615005", "Magnetic resonance imaging of heart"),
    ("41976001", "Cardiac catheterisation"),
    ("252416005", "Computed tomography of heart"),
    ("429064006", "Exercise echocardiography"),
    ("306302005", "Referral to cardiac surgeon"),
    ("29303009", "Electrocardiographic procedure"),
    ("386053000", "Evaluation procedure"),
    ("308447003", "Referral to cardiac rehabilitation"),
    ("390906007", "Follow-up encounter"),
    ("698314001", "Consultation for treatment"),
    ("308471005", "Referral to cardiologist"),
)
SR_STATUS = ("active",) * 5 + ("completed",) * 4 + ("revoked", "on-hold", "draft")
PROC_CODES = (
    ("865051000000105", "Transcatheter mitral valve leaflet clip repair"),
    ("720583008", "Transcatheter implantation of mitral valve"),
    ("53059001", "Replacement of mitral valve"),
    ("433236007", "Transthoracic echocardiography"),
    ("105376000", "Transoesophageal echocardiography"),
    ("41976001", "Cardiac catheterisation"),
)

START = dt.date(2024, 1, 1)
SPAN_DAYS = (dt.date(2026, 10, 31) - START).days


@dataclass
class Group:
    """What the query builder needs to know about one patient's resources."""

    nhs: str
    family: str
    sr_code: str
    sr_status: str
    procedure_day: dt.date


def nhs_number(n: int) -> str:
    """The n-th valid NHS number in a test range (mod 11 check digit, never 10)."""
    stem = 900_000_000 + n * 3
    while True:
        digits = [int(d) for d in str(stem)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return f"{stem}{check}"
        stem += 1


def _urn(rng: random.Random) -> str:
    return f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _ts(day: dt.date, hour: int, minute: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00Z"


def _entry(resource: dict[str, Any], full_url: str) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


def organizations() -> bytes:
    """The seven centres, PUT with fixed ids (referenced as Organization/centre-<code>)."""
    entries = [
        {
            "resource": {
                "resourceType": "Organization",
                "id": f"centre-{code}",
                "active": True,
                "name": name,
                "identifier": [
                    {
                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                        "value": code.upper(),
                    }
                ],
            },
            "request": {"method": "PUT", "url": f"Organization/centre-{code}"},
        }
        for code, name in CENTRES
    ]
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})


def patient_group(rng: random.Random, n: int) -> tuple[list[dict[str, Any]], Group]:
    nhs = nhs_number(n)
    family, given = rng.choice(FAMILIES), rng.choice(GIVEN)
    centre = f"Organization/centre-{rng.choice(CENTRES)[0]}"
    referral = START + dt.timedelta(days=rng.randrange(SPAN_DAYS - 60))
    last = START + dt.timedelta(days=SPAN_DAYS)
    echo_day = min(referral + dt.timedelta(days=rng.randint(3, 30)), last)
    mdt_day = min(echo_day + dt.timedelta(days=rng.randint(3, 30)), last)
    proc_day = min(mdt_day + dt.timedelta(days=rng.randint(7, 90)), last)
    urls = [_urn(rng) for _ in range(PER_PATIENT)]
    pat, sr, enc, _obs, cond, _proc, _plan = urls
    sr_code, sr_display = rng.choice(SR_CODES)
    sr_status = rng.choice(SR_STATUS)
    proc_code, proc_display = rng.choice(PROC_CODES)
    lvef = rng.randint(25, 70)
    resources = [
        {
            "resourceType": "Patient",
            "identifier": [
                {"system": NHS_NUMBER, "value": nhs},
                {"system": MRN, "value": f"M{n:08d}"},
            ],
            "active": True,
            "name": [{"use": "official", "family": family, "given": [given]}],
            "gender": rng.choice(("female", "male")),
            "birthDate": f"19{rng.randint(30, 79)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}",
            "address": [{"city": "London", "postalCode": f"SE{rng.randint(1, 28)} 7EH"}],
            "managingOrganization": {"reference": centre},
        },
        {
            "resourceType": "ServiceRequest",
            "status": sr_status,
            "intent": "order",
            "category": [_cc(SNOMED, "3457005", "Patient referral")],
            "code": _cc(SNOMED, sr_code, sr_display),
            "reasonCode": [_cc(SNOMED, "48724000", "Mitral valve regurgitation")],
            "subject": {"reference": pat},
            "authoredOn": _ts(referral, 9, rng.randint(0, 59)),
            "performer": [{"reference": centre}],
        },
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            # no verified SNOMED CT concept for an MDT meeting: the regional pathway stage
            "type": [_cc(PATHWAY_STAGE, "heart-team-review", "Heart-team review")],
            "subject": {"reference": pat},
            "basedOn": [{"reference": sr}],
            "period": {"start": _ts(mdt_day, 13, 0), "end": _ts(mdt_day, 14, 0)},
            "serviceProvider": {"reference": centre},
        },
        {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "imaging",
                        }
                    ]
                }
            ],
            "code": _cc(SNOMED, "40701008", "Echocardiography"),
            "subject": {"reference": pat},
            "basedOn": [{"reference": sr}],
            "effectiveDateTime": _ts(echo_day, 10, rng.randint(0, 59)),
            "performer": [{"reference": centre}],
            "component": [
                {
                    "code": _cc(LOINC, "10230-1", "Left ventricular ejection fraction"),
                    "valueQuantity": {"value": lvef, "unit": "%", "system": UCUM, "code": "%"},
                },
                {
                    "code": _cc(SNOMED, "48724000", "Mitral valve regurgitation"),
                    "valueCodeableConcept": _cc(
                        SNOMED, *rng.choice((("24484000", "Severe"), ("6736007", "Moderate")))
                    ),
                },
                {
                    "code": _cc(LOINC, "80071-4", "Mitral valve EROA"),
                    "valueQuantity": {
                        "value": round(rng.uniform(0.1, 0.6), 2),
                        "unit": "cm2",
                        "system": UCUM,
                        "code": "cm2",
                    },
                },
            ],
        },
        {
            "resourceType": "Condition",
            "clinicalStatus": _cc(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
            ),
            "code": _cc(SNOMED, "48724000", "Mitral valve regurgitation"),
            "subject": {"reference": pat},
            "onsetDateTime": _ts(echo_day, 10, 0),
            "recordedDate": _ts(mdt_day, 14, 0),
        },
        {
            "resourceType": "Procedure",
            "status": "completed",
            "code": _cc(SNOMED, proc_code, proc_display),
            "subject": {"reference": pat},
            "basedOn": [{"reference": sr}],
            "encounter": {"reference": enc},
            "performedDateTime": _ts(proc_day, rng.randint(8, 17), rng.randint(0, 59)),
            "performer": [{"actor": {"reference": centre}}],
            "bodySite": [_cc(SNOMED, "91134007", "Mitral valve structure")],
        },
        {
            "resourceType": "CarePlan",
            "status": "active",
            "intent": "plan",
            "title": "Mitral valve pathway",
            "subject": {"reference": pat},
            "encounter": {"reference": enc},
            "addresses": [{"reference": cond}],
            "period": {"start": mdt_day.isoformat()},
        },
    ]
    entries = [_entry(r, u) for r, u in zip(resources, urls, strict=True)]
    return entries, Group(nhs, family, sr_code, sr_status, proc_day)


@dataclass
class Store:
    bundles: list[bytes]
    groups: list[Group]
    per_bundle: int
    """Patients per Bundle."""

    @property
    def resources(self) -> int:
        return len(self.groups) * PER_PATIENT + len(CENTRES)


def generate(resources: int, per_bundle: int = 50, seed: int = 20261126) -> Store:
    """About ``resources`` resources (7 per patient, plus the 7 centres)."""
    patients = max(1, (resources - len(CENTRES)) // PER_PATIENT)
    rng = random.Random(seed)
    bundles: list[bytes] = []
    groups: list[Group] = []
    for start in range(0, patients, per_bundle):
        entries: list[dict[str, Any]] = []
        for n in range(start, min(start + per_bundle, patients)):
            group_entries, group = patient_group(rng, n)
            entries.extend(group_entries)
            groups.append(group)
        bundles.append(
            orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})
        )
    return Store(bundles, groups, per_bundle)


def bundle_groups(store: Store) -> Iterator[tuple[int, bytes]]:
    """(index of the Bundle's first patient, Bundle bytes)."""
    for i, body in enumerate(store.bundles):
        yield i * store.per_bundle, body
