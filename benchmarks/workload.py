"""The benchmark data: deterministic, realistic resources from the mitral valve pathway.

Everything is generated from a seed so every server in a run sees byte-identical requests:
- ingest bundles: transaction Bundles of 100 resources, 20 patients each with a referral
  and an echocardiography request (ServiceRequest) and two Procedures (SNOMED CT + OPCS-4),
  all linked through ``urn:uuid`` full URLs;
- a read/search set: Patients with their own NHS numbers (never used by the ingest bundles,
  so every token search matches exactly one resource);
- create bodies: single Patients for ``POST [base]/Patient``.

NHS numbers are valid (mod 11 check digit) and start with 9, the test range.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import orjson

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
GSTT_MRN = "https://fhir.gstt.nhs.uk/Id/mrn"
REFERRAL_ID = "https://fhir.gstt.nhs.uk/Id/referral"
SNOMED = "http://snomed.info/sct"
OPCS4 = "http://fhir.nhs.uk/CodeSystem/OPCS-4"

GROUP = 5
"""Resources per patient in an ingest bundle: Patient, 2 ServiceRequests, 2 Procedures."""

FAMILIES = ("Okafor", "Nowak", "Patel", "Smith", "Jones", "Hughes", "Begum", "Murphy", "Khan")
GIVEN = ("Adaeze", "Grace", "Tomasz", "Priya", "John", "Megan", "Rahima", "Sean", "Imran")
STREETS = ("Lambeth Palace Road", "Westminster Bridge Road", "Great Maze Pond", "Borough High St")


def nhs_numbers(rng: random.Random, start: int) -> Any:
    """Valid NHS numbers 9xxxxxxxxC, counting up from ``start`` (a 9-digit stem offset)."""
    stem = 900_000_000 + start
    while True:
        digits = [int(d) for d in str(stem)]
        total = sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        if check != 10:
            yield f"{stem}{check}"
        stem += rng.randint(1, 3)


def patient(rng: random.Random, nhs: str) -> dict[str, Any]:
    family, given = rng.choice(FAMILIES), rng.choice(GIVEN)
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": NHS_NUMBER, "value": nhs},
            {"system": GSTT_MRN, "value": f"H{nhs[-7:]}"},
        ],
        "active": True,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "telecom": [{"system": "phone", "value": f"020 7188 {rng.randint(1000, 9999)}"}],
        "gender": rng.choice(("female", "male")),
        "birthDate": f"19{rng.randint(30, 79)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "address": [
            {
                "line": [f"{rng.randint(1, 200)} {rng.choice(STREETS)}"],
                "city": "London",
                "postalCode": f"SE1 {rng.randint(1, 9)}EH",
            }
        ],
    }


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def service_request(rng: random.Random, subject: str, kind: str) -> dict[str, Any]:
    if kind == "referral":
        code = _coding(SNOMED, "183557002", "Referral to cardiology service")
        category = _coding(SNOMED, "3457005", "Patient referral")
    else:
        code = _coding(SNOMED, "40701008", "Echocardiography")
        category = _coding(SNOMED, "103693007", "Diagnostic procedure")
    return {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": REFERRAL_ID, "value": f"REF-2026-{rng.randint(1, 99999):05d}"}],
        "status": "active",
        "intent": "order",
        "category": [{"coding": [category]}],
        "priority": "routine",
        "code": {"coding": [code]},
        "reasonCode": [{"coding": [_coding(SNOMED, "48724000", "Mitral valve regurgitation")]}],
        "subject": {"reference": subject},
        "authoredOn": f"2026-{rng.randint(1, 9):02d}-{rng.randint(1, 28):02d}T09:30:00+01:00",
    }


def procedure(rng: random.Random, subject: str, based_on: str, kind: str) -> dict[str, Any]:
    if kind == "echo":
        codings = [
            _coding(SNOMED, "433236007", "Transthoracic echocardiography"),
            _coding(OPCS4, "U20.1", "Transthoracic echocardiography"),
        ]
    else:
        codings = [
            _coding(SNOMED, "865051000000105", "Transcatheter mitral valve leaflet clip repair"),
            _coding(OPCS4, "K35.8", "Other specified transluminal operations on mitral valve"),
        ]
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "category": {"coding": [_coding(SNOMED, "387713003", "Surgical procedure")]},
        "code": {"coding": codings},
        "subject": {"reference": subject},
        "basedOn": [{"reference": based_on}],
        "performedDateTime": f"2026-{rng.randint(1, 9):02d}-{rng.randint(1, 28):02d}T14:10:00Z",
        "bodySite": [{"coding": [_coding(SNOMED, "91134007", "Mitral valve structure")]}],
    }


def _entry(resource: dict[str, Any], full_url: str) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


def _urn(rng: random.Random) -> str:
    return f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def ingest_bundle(rng: random.Random, numbers: Any, size: int = 100) -> dict[str, Any]:
    """A transaction Bundle of ``size`` resources (a multiple of GROUP)."""
    entries: list[dict[str, Any]] = []
    for _ in range(size // GROUP):
        pat_url, ref_url, echo_url = _urn(rng), _urn(rng), _urn(rng)
        entries.append(_entry(patient(rng, next(numbers)), pat_url))
        entries.append(_entry(service_request(rng, pat_url, "referral"), ref_url))
        entries.append(_entry(service_request(rng, pat_url, "echo"), echo_url))
        entries.append(_entry(procedure(rng, pat_url, echo_url, "echo"), _urn(rng)))
        entries.append(_entry(procedure(rng, pat_url, ref_url, "teer"), _urn(rng)))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def patient_bundle(patients: list[dict[str, Any]]) -> dict[str, Any]:
    rng = random.Random(len(patients))
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [_entry(p, _urn(rng)) for p in patients],
    }


class Workload:
    """All request bodies of one run, built once and shared by every server."""

    def __init__(
        self, *, seed: int = 20261126, bundles: int = 40, bundle_size: int = 100, lookup: int = 1000
    ) -> None:
        rng = random.Random(seed)
        ingest_numbers = nhs_numbers(rng, 0)
        self.bundles: list[bytes] = [
            orjson.dumps(ingest_bundle(rng, ingest_numbers, bundle_size)) for _ in range(bundles)
        ]
        self.bundle_size = bundle_size
        # A disjoint NHS number range for the lookup set and the create bodies.
        lookup_numbers = nhs_numbers(rng, 50_000_000)
        self.lookup_patients = [patient(rng, next(lookup_numbers)) for _ in range(lookup)]
        create_numbers = nhs_numbers(rng, 80_000_000)
        self.create_bodies: list[bytes] = [
            orjson.dumps(patient(rng, next(create_numbers))) for _ in range(200)
        ]

    def lookup_bundles(self, per_bundle: int = 100) -> list[bytes]:
        return [
            orjson.dumps(patient_bundle(self.lookup_patients[i : i + per_bundle]))
            for i in range(0, len(self.lookup_patients), per_bundle)
        ]

    def lookup_nhs_numbers(self) -> list[str]:
        return [p["identifier"][0]["value"] for p in self.lookup_patients]
