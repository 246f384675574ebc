"""Build the fixed search dataset and its query table (deterministic: run it, commit both files).

    .venv/bin/python -m tests.search.dataset.build_dataset

Writes ``pathway-bundle.json`` (a FHIR R4 transaction Bundle of PUT entries with fixed ids) and
``queries.json`` (the query table). Expected results are computed here from the generated data
by small per-query predicates that follow https://hl7.org/fhir/R4/search.html, not by a generic
search engine: each predicate states the rule it applies (see ``why`` on the tricky ones).

Conventions the expectations rely on:
* date search values without an offset are read as UTC (the CapabilityStatement says so);
* a date value is the range its precision implies; a Period is [start, end] with a missing bound
  open; prefixes follow the R4 table (eq: the search range contains the target range; gt: the
  target range reaches above the search range; sa: the target starts after the search range ...);
* number and quantity ``eq`` use the implicit precision of the search value (``55`` is
  [54.5, 55.5), ``0.40`` is [0.395, 0.405)); ``gt lt ge le`` ignore it;
* string search is case- and accent-insensitive starts-with on any part; ``:exact`` compares the
  whole part exactly; ``:contains`` matches anywhere in a part;
* results without ``_sort`` come in (resourceType, id) order.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
BASE = "http://testserver/fhir"

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORG = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"
GMC = "https://fhir.hl7.org.uk/Id/gmc-number"
UBRN = "https://fhir.nhs.uk/Id/UBRN"
SCT = "http://snomed.info/sct"
OPCS = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
ICD10 = "http://hl7.org/fhir/sid/icd-10-uk"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
COND_CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CAT = "http://terminology.hl7.org/CodeSystem/condition-category"
LOCAL = "https://fhir.mitral.london/CodeSystem/pathway"
REF_ID = "https://fhir.mitral.london/Id/referral"
NICE = "https://www.nice.org.uk/guidance"

Resource = dict[str, Any]
RESOURCES: list[Resource] = []


def add(resource: Resource) -> Resource:
    RESOURCES.append(resource)
    return resource


def cc(system: str, code: str, display: str | None = None, text: str | None = None) -> Resource:
    coding: Resource = {"system": system, "code": code}
    if display:
        coding["display"] = display
    out: Resource = {"coding": [coding]}
    if text:
        out["text"] = text
    return out


def ref(target: str) -> Resource:
    return {"reference": target}


def dec(value: str) -> str:
    """A decimal written exactly as given (``0.40`` keeps its trailing zero)."""
    return f"__DEC__{value}"


def london(moment: datetime) -> str:
    """``moment`` (UTC) written with the Europe/London offset in force at that instant."""
    year = moment.year
    spring = _last_sunday(year, 3)
    autumn = _last_sunday(year, 10)
    summer = spring <= moment < autumn
    offset = timedelta(hours=1) if summer else timedelta(0)
    local = (moment + offset).replace(tzinfo=timezone(offset))
    return local.isoformat()


def _last_sunday(year: int, month: int) -> datetime:
    day = datetime(year, month + 1, 1, 1, tzinfo=UTC) - timedelta(days=1)
    while day.weekday() != 6:
        day -= timedelta(days=1)
    return day  # 01:00 UTC, when Europe/London changes


def nhs_number(rng: random.Random, used: set[str]) -> str:
    while True:
        digits = "9" + "".join(str(rng.randrange(10)) for _ in range(8))
        total = sum(int(d) * (10 - i) for i, d in enumerate(digits))
        check = 11 - total % 11
        if check == 10:
            continue
        number = digits + str(0 if check == 11 else check)
        if number not in used:
            used.add(number)
            return number


# --- reference data ------------------------------------------------------------------------------

TRUSTS = {
    "RJ1": "Guy's and St Thomas' NHS Foundation Trust",
    "RJZ": "King's College Hospital NHS Foundation Trust",
    "RJ7": "St George's University Hospitals NHS Foundation Trust",
    "R1H": "Barts Health NHS Trust",
    "RYJ": "Imperial College Healthcare NHS Trust",
}
# id, name, trust, site code (None: not verified), legacy site code, postcode, city
CENTRES = [
    ("org-rj122", "St Thomas' Hospital", "RJ1", "RJ122", None, "SE1 7EH", "London"),
    ("org-rj182", "Royal Brompton Hospital", "RJ1", "RJ182", "RT302", "SW3 6NP", "London"),
    ("org-rj181", "Harefield Hospital", "RJ1", "RJ181", "RT301", "UB9 6JH", "Uxbridge"),
    ("org-rjz01", "King's College Hospital", "RJZ", "RJZ01", None, "SE5 9RS", "London"),
    ("org-rj701", "St George's Hospital", "RJ7", "RJ701", None, "SW17 0QT", "London"),
    ("org-barts", "Barts Heart Centre", "R1H", None, None, "EC1A 7BE", "London"),
    ("org-ryj03", "Hammersmith Hospital", "RYJ", "RYJ03", "RQN02", "W12 0HS", "London"),
]
PRACTITIONERS = [
    ("Siobhán", "O'Connor", "female"),
    ("Łukasz", "Wójcik", "male"),
    ("Amara", "Nwosu", "female"),
    ("Rohan", "Mehta", "male"),
    ("Helen", "Brontë-Hughes", "female"),
    ("Kofi", "Asante", "male"),
    ("Ingrid", "Søndergaard", "female"),
    ("Daniel", "Levy", "male"),
    ("Nadia", "Haddad", "female"),
    ("Owen", "Price", "male"),
    ("Mei", "Chen", "female"),
    ("Tariq", "Aziz", "male"),
    ("Beatriz", "Conceição", "female"),
    ("James", "Whitfield", "male"),
]
GIVEN = ["Adaeze", "Oliver", "Priya", "Tomasz", "Fatima", "George", "Aoife", "Kwame", "Margaret"]
GIVEN += ["Rahul", "Eleanor", "Dmitri", "Grace", "Yusuf", "Hannah", "Chidi", "Ruth", "Arjun"]
FAMILY = ["Okafor", "Patel", "Kowalski", "Begum", "Hughes", "Murphy", "Mensah", "Thompson"]
FAMILY += ["Shah", "Evans", "Ivanova", "Clarke", "Ahmed", "Campbell", "Nowak", "Reid"]
POSTCODES = [
    ("SE1 7EH", "London"),
    ("SE5 9RS", "London"),
    ("SW17 0QT", "London"),
    ("EC1A 7BE", "London"),
    ("W12 0HS", "London"),
    ("SW3 6NP", "London"),
    ("UB9 6JH", "Uxbridge"),
    ("SE10 9NF", "London"),
    ("E1 1BB", "London"),
    ("N1 9GU", "London"),
]

REFERRAL_CODES = [
    ("308471005", "Referral to cardiologist"),
    ("183557002", "Referral to cardiothoracic surgeon"),
    ("306302005", "Referral to cardiac surgeon"),
]
REASONS = [
    ("48724000", "Mitral valve regurgitation"),
    ("111287006", "Tricuspid valve regurgitation"),
    ("79619009", "Mitral stenosis"),
]
PROCEDURES = [
    ("865051000000105", "Percutaneous transluminal repair of mitral valve leaflet", "K35.8"),
    ("720583008", "Transcatheter implantation of mitral valve", "K35.8"),
    ("1237589003", "Transcatheter repair of leaflet of tricuspid valve", "K35.8"),
]
CATEGORIES = [("teer-assessment", "TEER assessment"), ("surgical-assessment", "Surgical review")]


def build() -> None:  # noqa: C901 - one linear script
    rng = random.Random(20260329)
    used_nhs: set[str] = set()

    for code, name in TRUSTS.items():
        add(
            {
                "resourceType": "Organization",
                "id": f"org-{code.lower()}",
                "identifier": [{"system": ODS_ORG, "value": code}],
                "active": True,
                "name": name,
            }
        )
    for oid, name, trust, site, legacy, postcode, city in CENTRES:
        org: Resource = {"resourceType": "Organization", "id": oid, "active": True, "name": name}
        idents: list[Resource] = []
        if site:
            idents.append({"use": "official", "system": ODS_SITE, "value": site})
        if legacy:
            idents.append({"use": "old", "system": ODS_SITE, "value": legacy})
        if idents:
            org["identifier"] = idents
        org["address"] = [{"city": city, "postalCode": postcode, "country": "GB"}]
        org["partOf"] = ref(f"Organization/org-{trust.lower()}")
        add(org)
    centre_ids = [c[0] for c in CENTRES]

    for i, (given, family, gender) in enumerate(PRACTITIONERS, 1):
        add(
            {
                "resourceType": "Practitioner",
                "id": f"prac-{i:02d}",
                "identifier": [{"system": GMC, "value": f"{7100000 + i * 731:07d}"}],
                "active": i != 14,
                "name": [{"family": family, "given": [given], "prefix": ["Dr"]}],
                "gender": gender,
            }
        )

    for oid, name, *_ in CENTRES:
        add(
            {
                "resourceType": "HealthcareService",
                "id": f"hcs-{oid[4:]}",
                "active": oid != "org-barts",
                "providedBy": ref(f"Organization/{oid}"),
                "name": f"Mitral valve MDT, {name}",
                "specialty": [cc(LOCAL, "structural-heart", "Structural heart disease")]
                if oid != "org-ryj03"
                else [],
            }
        )
    for hcs in RESOURCES:
        if hcs["resourceType"] == "HealthcareService" and not hcs["specialty"]:
            del hcs["specialty"]

    # --- patients: hand-made edge cases first, then a seeded cohort ---
    special: list[Resource] = [
        {"given": ["Zoë"], "family": "Brontë", "gender": "female", "birthDate": "1948-07-19"},
        {"given": ["José"], "family": "Núñez", "gender": "male", "birthDate": "1952-03"},
        {"given": ["Zoe"], "family": "Bronte", "gender": "female", "birthDate": "1960"},
        {"given": ["Anaïs"], "family": "Lefèvre", "gender": "female", "birthDate": "1944-02-29"},
        {"given": ["Bronwen"], "family": "Okafor", "gender": "female", "birthDate": "1957-11-03"},
        {"given": ["Seán"], "family": "Ó Briain", "gender": "male", "birthDate": "1950-01-01"},
        {"given": ["Ngozi"], "family": "Adébáyọ̀", "gender": "female", "birthDate": "1949-12-31"},
        {"given": ["Arthur"], "family": "Penhaligon", "gender": "male", "birthDate": "1939-12-31"},
        {"given": ["Unknown"], "family": "Doe", "gender": "unknown"},
        {"given": ["Mary-Jane"], "family": "Smith-Brontë", "gender": "female", "birthDate": "1951"},
    ]
    patients: list[Resource] = []
    for i in range(1, 51):
        pid = f"pat-{i:03d}"
        if i <= len(special):
            spec = special[i - 1]
        else:
            year = rng.randrange(1936, 1966)
            spec = {
                "given": [rng.choice(GIVEN)],
                "family": rng.choice(FAMILY),
                "gender": rng.choice(["female", "male"]),
                "birthDate": f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            }
        number = nhs_number(rng, used_nhs)
        centre = CENTRES[i % 7]
        mrn: Resource = {"system": f"https://fhir.mitral.london/Id/mrn/{centre[3] or 'R1H'}"}
        mrn["value"] = f"M{i:05d}"
        if i % 3 == 0:
            mrn["type"] = cc(V2_0203, "MR", "Medical record number")
        pat: Resource = {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [{"system": NHS, "value": number}, mrn],
            "active": i != 9,
            "name": [{"use": "official", "family": spec["family"], "given": spec["given"]}],
            "gender": spec["gender"],
        }
        if i != 9:
            pat["telecom"] = [{"system": "phone", "value": f"020 7{i:03d} {1000 + i * 7}"}]
            if i % 4 == 1:
                pat["telecom"].append({"system": "email", "value": f"patient{i}@example.org"})
        if "birthDate" in spec:
            pat["birthDate"] = spec["birthDate"]
        if i == 8:
            pat["deceasedDateTime"] = "2026-10-25T01:30:00+01:00"
        if i != 9:
            postcode, city = POSTCODES[(i * 3) % len(POSTCODES)] if i > 3 else POSTCODES[0]
            if i == 3:
                postcode = "SE10 9NF"
            pat["address"] = [
                {"use": "home", "line": [f"{i} Mitral Road"], "city": city, "postalCode": postcode}
            ]
            pat["managingOrganization"] = ref(f"Organization/org-{centre[2].lower()}")
        patients.append(add(pat))

    # --- referrals (ServiceRequest) ---
    referrals: list[Resource] = []
    dst_times = [
        "2026-03-28T23:30:00Z",
        "2026-03-29T00:30:00+00:00",
        "2026-03-29T03:30:00+01:00",
        "2026-10-25T00:15:00+01:00",
        "2026-10-25T01:30:00+01:00",
        "2026-10-25T01:30:00+00:00",
        "2026-10-25T23:30:00Z",
    ]
    start = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    for i in range(1, 61):
        sid = f"sr-{i:03d}"
        pat = patients[(i - 1) % 50]
        code, display = REFERRAL_CODES[i % 3]
        reason = REASONS[0] if i % 5 else REASONS[1 + (i // 5) % 2]
        cat = CATEGORIES[i % 2]
        if i <= len(dst_times):
            authored = dst_times[i - 1]
        else:
            moment = start + timedelta(days=rng.randrange(0, 520), minutes=rng.randrange(0, 600))
            if datetime(2026, 3, 26, tzinfo=UTC) <= moment < datetime(2026, 3, 31, tzinfo=UTC):
                moment += timedelta(days=10)
            if datetime(2026, 10, 22, tzinfo=UTC) <= moment < datetime(2026, 10, 28, tzinfo=UTC):
                moment += timedelta(days=10)
            authored = london(moment)
        sr: Resource = {
            "resourceType": "ServiceRequest",
            "id": sid,
            "identifier": [{"system": REF_ID, "value": f"REF-{i:04d}"}],
            "status": ["active", "active", "completed", "revoked", "draft", "on-hold"][i % 6],
            "intent": "order" if i % 7 else "plan",
            "category": [cc(LOCAL, cat[0], cat[1])],
            "priority": "urgent" if i % 4 == 0 else "routine",
            "code": cc(SCT, code, display, text=display),
            "reasonCode": [cc(SCT, reason[0], reason[1])],
            "subject": ref(f"Patient/{pat['id']}"),
            "authoredOn": authored,
        }
        if i % 10 == 0:
            sr["identifier"].append({"system": UBRN, "value": f"{100000000000 + i * 3711}"})
        if i % 8 == 0:
            del sr["reasonCode"]
        if i % 9 == 0:
            sr["requester"] = {
                "identifier": {"system": GMC, "value": f"{7100000 + ((i % 14) + 1) * 731:07d}"},
                "display": "External referrer",
            }
        elif i % 11 != 0:
            sr["requester"] = ref(f"Practitioner/prac-{(i % 14) + 1:02d}")
        if i % 2 == 0:
            sr["performer"] = [ref(f"HealthcareService/hcs-{centre_ids[i % 7][4:]}")]
        elif i % 3 == 0:
            sr["performer"] = [ref(f"Organization/{centre_ids[i % 7]}")]
        if i % 4 == 1:
            low = 10 + (i % 5) * 4
            period: Resource = {"start": f"2026-{1 + i % 11:02d}-{low:02d}"}
            if i % 8 != 1:
                period["end"] = f"2026-{2 + i % 11:02d}-{low - 5:02d}"
            sr["occurrencePeriod"] = period
        if i % 6 == 1:
            sr["instantiatesUri"] = [f"{NICE}/ng208"]
        referrals.append(add(sr))
    # a repeat referral for Zoë Brontë, with an absolute subject reference and identifier
    referrals.append(
        add(
            {
                **referrals[0],
                "id": "sr-061",
                "identifier": [{"system": REF_ID, "value": "REF-0061"}],
                "status": "active",
                "subject": {
                    "reference": f"{BASE}/Patient/pat-001",
                    "identifier": {"system": NHS, "value": patients[0]["identifier"][0]["value"]},
                },
                "authoredOn": "2026-11-02T10:00:00Z",
                "requester": ref("https://fhir.kch.nhs.uk/Practitioner/ext-77"),
            }
        )
    )

    # --- care plans ---
    for i in range(1, 26):
        sr = referrals[i - 1]
        cp: Resource = {
            "resourceType": "CarePlan",
            "id": f"cp-{i:03d}",
            "status": ["active", "completed", "draft", "active", "revoked"][i % 5],
            "intent": "plan",
            "category": [cc(LOCAL, "mitral-pathway", "Mitral valve pathway")],
            "subject": sr["subject"] if i != 1 else ref("Patient/pat-001"),
            "basedOn": [ref(f"ServiceRequest/{sr['id']}")],
            "period": {"start": f"2026-{1 + i % 10:02d}-{1 + i:02d}"},
            "activity": [
                {
                    "detail": {
                        "code": cc(SCT, PROCEDURES[i % 3][0], PROCEDURES[i % 3][1]),
                        "status": "scheduled",
                    }
                }
            ],
        }
        if i % 3:
            cp["period"]["end"] = f"2026-{2 + i % 10:02d}-{1 + i:02d}"
        if i % 4 == 0:
            cp["instantiatesUri"] = [f"{NICE}/ng208"]
        elif i % 4 == 1:
            cp["instantiatesUri"] = [f"{NICE}/ipg309"]
        add(cp)

    # --- procedures ---
    for i in range(1, 31):
        sr = referrals[i + 9]
        code, display, opcs = PROCEDURES[i % 3]
        codings = [{"system": SCT, "code": code, "display": display}]
        codings.append({"system": OPCS, "code": opcs})
        if i % 3 == 1:
            codings += [{"system": OPCS, "code": c} for c in ("Y53.4", "Z32.1")]
        proc: Resource = {
            "resourceType": "Procedure",
            "id": f"proc-{i:03d}",
            "basedOn": [ref(f"ServiceRequest/{sr['id']}")],
            "status": "completed" if i % 5 else "in-progress",
            "code": {"coding": codings, "text": display},
            "subject": sr["subject"],
            "performer": [
                {
                    "actor": ref(f"Practitioner/prac-{(i % 14) + 1:02d}"),
                    "onBehalfOf": ref(f"Organization/{centre_ids[i % 7]}"),
                }
            ],
        }
        if i == 1:
            proc["performedDateTime"] = "2026-03"
        elif i == 2:
            proc["performedPeriod"] = {
                "start": "2026-10-25T00:30:00+01:00",
                "end": "2026-10-25T01:45:00+00:00",
            }
        elif i == 3:
            proc["performedPeriod"] = {"start": "2026-11-20T08:00:00Z"}
        elif i % 4 == 0:
            day = 1 + i % 27
            proc["performedPeriod"] = {
                "start": f"2026-{1 + i % 11:02d}-{day:02d}T09:00:00Z",
                "end": f"2026-{1 + i % 11:02d}-{day:02d}T12:30:00Z",
            }
        elif i % 5 == 0:
            pass  # in progress, not yet performed
        else:
            moment = datetime(2025, 9, 1, 8, tzinfo=UTC) + timedelta(days=i * 13, hours=i % 6)
            proc["performedDateTime"] = london(moment)
        if i % 3 == 1:
            proc["instantiatesUri"] = [f"{NICE}/ipg309"]
        add(proc)

    # --- MDT encounters ---
    for i in range(1, 26):
        pat = patients[(i * 2) % 50]
        mdt = datetime(2026, 1, 7, 13, tzinfo=UTC) + timedelta(days=7 * i)
        enc: Resource = {
            "resourceType": "Encounter",
            "id": f"enc-{i:03d}",
            "status": "finished" if i < 20 else "planned",
            "class": {"system": ACT, "code": "VR" if i % 3 == 0 else "AMB"},
            "type": [cc(LOCAL, "mdt", "Heart team MDT")],
            "subject": ref(f"Patient/{pat['id']}"),
            "participant": [{"individual": ref(f"Practitioner/prac-{(i % 14) + 1:02d}")}],
            "period": {"start": london(mdt)},
            "serviceProvider": ref(f"Organization/{centre_ids[i % 7]}"),
        }
        enc["period"]["end"] = london(mdt + timedelta(hours=2))
        add(enc)

    # --- echo observations ---
    lvef = ["25", "30", "35", "38", "40", "52", "55", "55.2", "56", "58", "72", "55.0"]
    eroa = ["0.40", "0.41", "0.38", "0.44", "0.2", "0.30", "0.50", "0.404"]
    obs_n = 0

    def obs(pat: Resource, code: Resource, when: str, **extra: Any) -> None:
        nonlocal obs_n
        obs_n += 1
        add(
            {
                "resourceType": "Observation",
                "id": f"obs-{obs_n:03d}",
                "status": "final" if obs_n % 9 else "preliminary",
                "category": [cc(OBS_CAT, "imaging", "Imaging")],
                "code": code,
                "subject": ref(f"Patient/{pat['id']}"),
                "effectiveDateTime": when,
                **extra,
            }
        )

    lvef_code = {
        "coding": [
            {"system": LOINC, "code": "10230-1", "display": "Left ventricular Ejection fraction"},
            {"system": SCT, "code": "250908004", "display": "Left ventricular ejection fraction"},
        ],
        "text": "LVEF",
    }
    for i, value in enumerate(lvef):
        when = london(datetime(2025, 10, 6, 11, tzinfo=UTC) + timedelta(days=19 * i))
        if i == 3:
            when = "2025-11"
        if i == 8:
            when = "2026"
        obs(
            patients[i],
            lvef_code,
            when,
            valueQuantity={"value": dec(value), "unit": "%", "system": UCUM, "code": "%"},
        )
    for i, value in enumerate(eroa):
        when = london(datetime(2025, 12, 1, 10, tzinfo=UTC) + timedelta(days=23 * i))
        unit: Resource = {"unit": "cm2", "system": UCUM, "code": "cm2"}
        if i == 7:
            unit = {"unit": "cm²"}
        obs(
            patients[10 + i],
            cc(LOINC, "80071-4", "MV EROA by PISA"),
            when,
            valueQuantity={"value": dec(value), **unit},
        )
    # regurgitant volume and mean gradient
    for i, value in enumerate(["45", "65", "75", "30"]):
        when = f"2026-0{i + 2}-1{i}T10:00:00Z"
        obs(
            patients[20 + i],
            cc(LOINC, "80064-9", "MR regurgitant volume by PISA"),
            when,
            valueQuantity={"value": dec(value), "unit": "mL", "system": UCUM, "code": "mL"},
        )
    for i, value in enumerate(["3", "5.5"]):
        obs(
            patients[24 + i],
            cc(LOINC, "80073-0", "MV mean gradient"),
            f"2026-06-0{i + 1}T10:00:00+01:00",
            valueQuantity={"value": dec(value), "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        )
    # MR severity panels with components (composite search)
    severities = [("24484000", "Severe"), ("1255665007", "Moderate")]
    panels = [("0.45", "70", 0), ("0.25", "35", 1), ("0.42", "65", 0), ("0.30", "45", 1)]
    panels += [("0.55", "80", 0), ("0.20", "25", 1)]
    for i, (area, volume, sev) in enumerate(panels):
        obs(
            patients[30 + i],
            cc(SCT, "48724000", "Mitral valve regurgitation"),
            london(datetime(2026, 2, 3, 14, tzinfo=UTC) + timedelta(days=31 * i)),
            valueCodeableConcept=cc(SCT, severities[sev][0], severities[sev][1]),
            component=[
                {
                    "code": cc(LOINC, "80071-4", "MV EROA by PISA"),
                    "valueQuantity": {
                        "value": dec(area),
                        "unit": "cm2",
                        "system": UCUM,
                        "code": "cm2",
                    },
                },
                {
                    "code": cc(LOINC, "80064-9", "MR regurgitant volume by PISA"),
                    "valueQuantity": {
                        "value": dec(volume),
                        "unit": "mL",
                        "system": UCUM,
                        "code": "mL",
                    },
                },
            ],
        )
    # NYHA class
    nyha = [("420300004", "I"), ("421704003", "II"), ("420913000", "III"), ("422293003", "IV")]
    for i in range(8):
        code, label = nyha[i % 4]
        obs(
            patients[36 + i],
            cc(LOINC, "93124-6", "NYHA class"),
            f"2026-0{1 + i}-15",
            valueCodeableConcept=cc(SCT, code, f"NYHA class {label}", text=f"NYHA class {label}"),
        )
    # an LVEF that could not be measured: no value, a data absent reason
    obs(
        patients[44],
        lvef_code,
        "2026-03-29T01:30:00+01:00",
        dataAbsentReason=cc(
            "http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-performed"
        ),
    )

    # --- conditions ---
    diagnoses = [
        (
            [
                ("I34.0", ICD10, "Nonrheumatic mitral (valve) insufficiency"),
                ("48724000", SCT, "Mitral valve regurgitation"),
            ],
            "Mitral regurgitation",
        ),
        ([("I34.1", ICD10, "Nonrheumatic mitral (valve) prolapse")], "Mitral valve prolapse"),
        (
            [
                ("I36.1", ICD10, "Nonrheumatic tricuspid (valve) insufficiency"),
                ("111287006", SCT, "Tricuspid valve regurgitation"),
            ],
            "Tricuspid regurgitation",
        ),
        (
            [("I05.0", ICD10, "Mitral stenosis"), ("79619009", SCT, "Mitral stenosis")],
            "Rheumatic mitral stenosis",
        ),
    ]
    for i in range(1, 41):
        diag, text = diagnoses[0] if i % 4 else diagnoses[(i // 4) % 4]
        cond: Resource = {
            "resourceType": "Condition",
            "id": f"cond-{i:03d}",
            "clinicalStatus": cc(COND_CLIN, ["active", "active", "resolved", "remission"][i % 4]),
            "verificationStatus": cc(COND_VER, "confirmed"),
            "category": [cc(COND_CAT, "problem-list-item")],
            "code": {
                "coding": [{"system": s, "code": c, "display": d} for c, s, d in diag],
                "text": text,
            },
            "subject": ref(f"Patient/{patients[(i - 1) % 50]['id']}"),
            "onsetDateTime": f"{2015 + i % 11}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "recordedDate": f"2026-{1 + i % 11:02d}-0{1 + i % 9}",
        }
        if i % 4 == 1:
            cond["severity"] = cc(SCT, "24484000", "Severe")
        elif i % 4 == 2:
            cond["severity"] = cc(SCT, "1255665007", "Moderate")
        if i == 1:
            cond["note"] = [{"text": "Discussed at the heart team MDT"}]
        if i == 4:
            cond["onsetDateTime"] = "1999-05-10"
        elif i == 5:
            cond["onsetDateTime"] = "2024"
        elif i == 6:
            del cond["onsetDateTime"]
            cond["onsetPeriod"] = {"start": "2025-12-20", "end": "2026-01-10"}
        elif i == 7:
            del cond["onsetDateTime"]
        elif i == 8:
            del cond["clinicalStatus"]
            cond["category"] = [cc(COND_CAT, "encounter-diagnosis")]
        if cond.get("clinicalStatus", {}).get("coding", [{}])[0].get("code") == "resolved":
            cond["abatementDateTime"] = "2026-09-30"
        add(cond)

    # --- EuroSCORE II risk assessments (number search) ---
    for i, prob in enumerate(["1.52", "2.31", "2.25", "4.8", "8.0", "12.5", "2.3", "0.9"], 1):
        add(
            {
                "resourceType": "RiskAssessment",
                "id": f"risk-{i:02d}",
                "status": "final",
                "method": cc(LOCAL, "euroscore-ii", "EuroSCORE II"),
                "subject": ref(f"Patient/{patients[i * 5]['id']}"),
                "occurrenceDateTime": f"2026-0{i}-1{i}",
                "prediction": [
                    {
                        "outcome": {"text": "In-hospital mortality"},
                        "probabilityDecimal": dec(prob),
                    }
                ],
            }
        )


# --- the oracle helpers ---------------------------------------------------------------------


def of_type(res_type: str) -> list[Resource]:
    return [r for r in RESOURCES if r["resourceType"] == res_type]


def by_ref(reference: str) -> Resource | None:
    reference = reference.removeprefix(BASE + "/")
    for r in RESOURCES:
        if f"{r['resourceType']}/{r['id']}" == reference:
            return r
    return None


def key(r: Resource) -> str:
    return f"{r['resourceType']}/{r['id']}"


def ids(res_type: str, pred: Callable[[Resource], bool]) -> list[str]:
    return [key(r) for r in sorted(of_type(res_type), key=lambda r: r["id"]) if pred(r)]


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def name_parts(r: Resource) -> list[str]:
    out: list[str] = []
    for name in r.get("name", []):
        out += [name.get("family", ""), *name.get("given", []), *name.get("prefix", [])]
    return [p for p in out if p]


def starts(parts: Iterable[str], value: str) -> bool:
    return any(fold(p).startswith(fold(value)) for p in parts)


def contains(parts: Iterable[str], value: str) -> bool:
    return any(fold(value) in fold(p) for p in parts)


US = 1_000_000
_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:\d{2}))?)?)?$"
)


def drange(text: str) -> tuple[datetime, datetime]:
    """The half-open UTC range [low, high) a FHIR date value covers (no offset: UTC)."""
    m = _DATE.match(text)
    assert m, text
    y, mo, d, hh = m.groups()[:4]
    if mo is None:
        return datetime(int(y), 1, 1, tzinfo=UTC), datetime(int(y) + 1, 1, 1, tzinfo=UTC)
    if d is None:
        low = datetime(int(y), int(mo), 1, tzinfo=UTC)
        nxt = datetime(int(y) + (mo == "12"), 1 if mo == "12" else int(mo) + 1, 1, tzinfo=UTC)
        return low, nxt
    if hh is None:
        low = datetime(int(y), int(mo), int(d), tzinfo=UTC)
        return low, low + timedelta(days=1)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return moment, moment + timedelta(seconds=1)


NEG = datetime(1, 1, 1, tzinfo=UTC)
POS = datetime(9999, 12, 31, tzinfo=UTC)


def period_range(period: Resource) -> tuple[datetime, datetime]:
    low = drange(period["start"])[0] if "start" in period else NEG
    high = drange(period["end"])[1] if "end" in period else POS
    return low, high


def date_match(prefix: str, search: str, target: tuple[datetime, datetime] | None) -> bool:
    if target is None:
        return False
    sl, sh = drange(search)
    tl, th = target
    eq = sl <= tl and th <= sh
    return {
        "eq": eq,
        "ne": not eq,
        "gt": th > sh,
        "lt": tl < sl,
        "ge": th > sh or eq,
        "le": tl < sl or eq,
        "sa": tl >= sh,
        "eb": th <= sl,
    }[prefix]


def num_match(prefix: str, search: str, value: Decimal | None) -> bool:
    if value is None:
        return False
    s = Decimal(search)
    exponent = s.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return {
        "eq": s - half <= value < s + half,
        "ne": not (s - half <= value < s + half),
        "gt": value > s,
        "lt": value < s,
        "ge": value >= s,
        "le": value <= s,
        "sa": value > s,
        "eb": value < s,
    }[prefix]


def qty(r: Resource) -> Decimal | None:
    vq = r.get("valueQuantity")
    return Decimal(vq["value"].removeprefix("__DEC__")) if vq else None


def codings(concepts: Any) -> list[Resource]:
    if concepts is None:
        return []
    if isinstance(concepts, dict):
        concepts = [concepts]
    return [c for concept in concepts for c in concept.get("coding", [])]


def has_code(concepts: Any, system: str | None, code: str | None) -> bool:
    return any(
        (system is None or c.get("system") == system) and (code is None or c.get("code") == code)
        for c in codings(concepts)
    )


def refs(r: Resource, field: str) -> list[str]:
    value = r.get(field)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [i["reference"].removeprefix(BASE + "/") for i in items if "reference" in i]


def eff(r: Resource) -> tuple[datetime, datetime] | None:
    return drange(r["effectiveDateTime"]) if "effectiveDateTime" in r else None


def performed(r: Resource) -> tuple[datetime, datetime] | None:
    if "performedDateTime" in r:
        return drange(r["performedDateTime"])
    if "performedPeriod" in r:
        return period_range(r["performedPeriod"])
    return None


def onset(r: Resource) -> tuple[datetime, datetime] | None:
    if "onsetDateTime" in r:
        return drange(r["onsetDateTime"])
    if "onsetPeriod" in r:
        return period_range(r["onsetPeriod"])
    return None


def birth(r: Resource) -> tuple[datetime, datetime] | None:
    return drange(r["birthDate"]) if "birthDate" in r else None


def authored(r: Resource) -> tuple[datetime, datetime] | None:
    return drange(r["authoredOn"]) if "authoredOn" in r else None


def name_starts(value: str) -> Callable[[Resource], bool]:
    return lambda r: starts(name_parts(r), value)


def field_is(name: str, value: str) -> Callable[[Resource], bool]:
    return lambda r: r.get(name) == value


def number_is(
    prefix: str, value: str, getter: Callable[[Resource], Decimal | None]
) -> Callable[[Resource], bool]:
    return lambda r: num_match(prefix, value, getter(r))


def status(value: str) -> Callable[[Resource], bool]:
    return lambda r: r.get("status") == value


# --- the query table ------------------------------------------------------------------------

QUERIES: list[Resource] = []


def q(group: str, query: str, expect: list[str] | None = None, **extra: Any) -> None:
    """One row of the table. ``expect`` is the match ids in the order the server must give."""
    row: Resource = {"id": f"{group}-{sum(1 for r in QUERIES if r['group'] == group) + 1:03d}"}
    row.update(group=group, query=query)
    if expect is not None:
        row["expect"] = expect
    row.update(extra)
    QUERIES.append(row)


def err(group: str, query: str, code: str = "invalid", **extra: Any) -> None:
    q(group, query, status=400, code=code, **extra)


def queries() -> None:  # noqa: C901 - one long table
    pats, srs = of_type("Patient"), of_type("ServiceRequest")
    p1 = next(p for p in pats if p["id"] == "pat-001")
    nhs1 = p1["identifier"][0]["value"]
    all_of = {t: ids(t, lambda _: True) for t in {r["resourceType"] for r in RESOURCES}}

    # -- basic: what the first release already supports --
    g = "basic"
    q(g, "Patient?_id=pat-001", ["Patient/pat-001"])
    q(g, "Patient?_id=pat-001,pat-010,nope", ["Patient/pat-001", "Patient/pat-010"])
    q(g, "Patient?_id=pat-001&_id=pat-002", [], why="repeated parameters are ANDed")
    q(g, "Organization", all_of["Organization"])
    q(g, "Practitioner?_lastUpdated=gt2020-01-01", all_of["Practitioner"])
    q(g, "Practitioner?_lastUpdated=lt2020-01-01", [])
    q(g, "Patient?identifier=" + nhs1, ["Patient/pat-001"])
    q(g, f"Patient?identifier={NHS}|{nhs1}", ["Patient/pat-001"])
    q(g, f"Patient?identifier=|{nhs1}", [], why="|code means 'no system'; the NHS number has one")
    q(
        g,
        "Patient?identifier=https://fhir.mitral.london/Id/mrn/RJZ01|",
        ids("Patient", lambda r: r["identifier"][1]["system"].endswith("RJZ01")),
    )
    q(
        g,
        f"Organization?identifier={ODS_SITE}|RT302",
        ["Organization/org-rj182"],
        why="legacy (use=old) identifiers are indexed too",
    )
    q(
        g,
        f"Organization?identifier={ODS_ORG}|RJ1,{ODS_ORG}|RJZ",
        ["Organization/org-rj1", "Organization/org-rjz"],
    )
    q(g, "Organization?identifier:missing=true", ["Organization/org-barts"])
    q(
        g,
        f"ServiceRequest?identifier={UBRN}|",
        ids("ServiceRequest", lambda r: any(i["system"] == UBRN for i in r["identifier"])),
    )
    q(g, f"ServiceRequest?identifier={REF_ID}|REF-0061", ["ServiceRequest/sr-061"])
    q(
        g,
        "ServiceRequest?_count=5",
        all_of["ServiceRequest"],
        why="follow next links: 61 referrals in pages of 5, in id order",
    )
    q(
        g,
        "Observation?_count=7&_total=accurate",
        all_of["Observation"],
        total=len(all_of["Observation"]),
    )
    q(g, "Condition?_summary=count", [], total=len(all_of["Condition"]))
    q(g, "Patient?_count=0", [], total=len(all_of["Patient"]))
    q(g, "Practitioner?_count=3", all_of["Practitioner"][:3], first_page=True)
    q(g, "Organization?_id=org-rj1&_total=accurate", ["Organization/org-rj1"], total=1)
    q(
        g,
        "ServiceRequest",
        ["ServiceRequest/sr-003"],
        method="POST",
        form="identifier=https://fhir.mitral.london/Id/referral|REF-0003",
    )

    # -- errors the first release already gives --
    g = "errors"
    err(g, "Patient?_lastUpdated=2026-02-30", why="no such day")
    err(g, "Patient?_lastUpdated=xx2026-01-01", why="xx is not a prefix")
    err(g, "Patient?_lastUpdated=2026-13")
    err(g, "Patient?_lastUpdated=yesterday")
    err(g, "Patient?identifier:foo=1")
    err(g, "Patient?identifier:missing=maybe")
    err(g, "Patient?_count=ten")
    err(g, "Patient?_total=exact")
    err(g, "Patient?colour=blue", why="unknown parameter, Prefer: handling=strict")
    err(g, "Patient?_id=pat-001&shoe-size=9")
    err(g, "ServiceRequest?reason-code:missing=true", why="ServiceRequest has no reason-code")
    q(
        g,
        "Patient?colour=blue&_id=pat-001",
        ["Patient/pat-001"],
        lenient=True,
        why="lenient: the unknown parameter is ignored (and reported in an OperationOutcome)",
    )

    # -- string --
    g = "string"
    for value in (
        "bronte",
        "BRONTË",
        "Bron",
        "zoe",
        "zoë",
        "jose",
        "NUNEZ",
        "adebayo",
        "o bri",
        "lef",
        "smith-b",
        "mary",
    ):
        q(g, f"Patient?name={value}", ids("Patient", name_starts(value)))
    q(
        g,
        "Patient?family=bron",
        ids("Patient", lambda r: starts([n["family"] for n in r["name"]], "bron")),
        why="family only: Bronwen is a given name",
    )
    q(g, "Patient?given=zo", ids("Patient", lambda r: starts(r["name"][0]["given"], "zo")))
    q(g, "Patient?name:exact=Brontë", ["Patient/pat-001"], why=":exact is accent-sensitive")
    q(g, "Patient?name:exact=bronte", [], why=":exact is case-sensitive")
    q(g, "Patient?name:exact=Bronte", ["Patient/pat-003"])
    q(g, "Patient?family:exact=Smith", [], why=":exact matches the whole part")
    q(
        g,
        "Patient?family:contains=ront",
        ids("Patient", lambda r: contains([n["family"] for n in r["name"]], "ront")),
    )
    q(g, "Patient?name:contains=JANE", ids("Patient", lambda r: contains(name_parts(r), "jane")))
    q(g, "Patient?name:contains=nez", ids("Patient", lambda r: contains(name_parts(r), "nez")))
    q(
        g,
        "Patient?address-postalcode=se1",
        ids("Patient", lambda r: starts([a["postalCode"] for a in r.get("address", [])], "se1")),
        why="starts-with: SE10 9NF matches SE1 too",
    )
    q(
        g,
        "Patient?address-postalcode=SE1 7",
        ids("Patient", lambda r: starts([a["postalCode"] for a in r.get("address", [])], "SE1 7")),
    )
    q(
        g,
        "Patient?address-city=uxb",
        ids("Patient", lambda r: starts([a["city"] for a in r.get("address", [])], "uxb")),
    )
    q(
        g,
        "Patient?address=mitral road",
        [],
        why="starts-with on each part: the line starts with the house number",
    )
    q(g, "Patient?address:contains=mitral road", ids("Patient", lambda r: "address" in r))
    q(g, "Practitioner?name=siobhan", ["Practitioner/prac-01"])
    q(g, "Practitioner?family=wojcik", ["Practitioner/prac-02"])
    q(
        g,
        "Practitioner?name=sondergaard",
        [],
        why="ø is a letter of its own, not o with an accent: Unicode gives it no decomposition",
        unsure=True,
    )
    q(g, "Practitioner?name=SØNDER", ["Practitioner/prac-07"])
    q(g, "Practitioner?name=dr", all_of["Practitioner"], why="prefix is part of HumanName")
    q(g, "Organization?name=king", ["Organization/org-rjz", "Organization/org-rjz01"])
    q(g, "Organization?name=st", ids("Organization", lambda r: fold(r["name"]).startswith("st")))
    q(
        g,
        "Organization?name:contains=HOSPITAL",
        ids("Organization", lambda r: "hospital" in fold(r["name"])),
    )
    q(
        g,
        "HealthcareService?name=mitral valve mdt\\, st",
        ["HealthcareService/hcs-rj122", "HealthcareService/hcs-rj701"],
    )
    q(
        g,
        "Patient?name=bronte,nunez",
        ids("Patient", lambda r: starts(name_parts(r), "bronte") or starts(name_parts(r), "nunez")),
    )
    q(
        g,
        "Patient?name=zoe&name=bronte",
        ids("Patient", lambda r: starts(name_parts(r), "zoe") and starts(name_parts(r), "bronte")),
    )
    q(g, "Patient?family=ó briain", ["Patient/pat-006"])

    # -- token --
    g = "token"
    for gender in ("female", "male", "unknown"):
        q(g, f"Patient?gender={gender}", ids("Patient", field_is("gender", gender)))
    q(g, "Patient?gender=female,unknown", ids("Patient", lambda r: r["gender"] != "male"))
    q(g, "Patient?active=false", ["Patient/pat-009"])
    q(g, "Patient?gender:not=female", ids("Patient", lambda r: r["gender"] != "female"))
    q(g, "ServiceRequest?status=active", ids("ServiceRequest", status("active")))
    q(
        g,
        "ServiceRequest?status:not=active",
        ids("ServiceRequest", lambda r: r["status"] != "active"),
    )
    q(
        g,
        "ServiceRequest?status=active,on-hold&intent=order",
        ids(
            "ServiceRequest",
            lambda r: r["status"] in ("active", "on-hold") and r["intent"] == "order",
        ),
    )
    q(
        g,
        "ServiceRequest?priority=urgent",
        ids("ServiceRequest", lambda r: r["priority"] == "urgent"),
    )
    q(
        g,
        f"ServiceRequest?code={SCT}|183557002",
        ids("ServiceRequest", lambda r: has_code(r["code"], SCT, "183557002")),
    )
    q(
        g,
        "ServiceRequest?code=308471005",
        ids("ServiceRequest", lambda r: has_code(r["code"], None, "308471005")),
    )
    q(g, "ServiceRequest?code=|308471005", [], why="|code: no system; every coding has one")
    q(g, f"ServiceRequest?code={LOINC}|308471005", [])
    q(
        g,
        f"ServiceRequest?category={LOCAL}|teer-assessment",
        ids("ServiceRequest", lambda r: has_code(r["category"], LOCAL, "teer-assessment")),
    )
    q(
        g,
        f"Condition?code={ICD10}|I34.0",
        ids("Condition", lambda r: has_code(r["code"], ICD10, "I34.0")),
    )
    q(
        g,
        f"Condition?code={SCT}|",
        ids("Condition", lambda r: has_code(r["code"], SCT, None)),
        why="system|: any code from SNOMED CT; I34.1 conditions have only ICD-10",
    )
    q(
        g,
        f"Condition?code={ICD10}|I34.1,{ICD10}|I05.0",
        ids(
            "Condition",
            lambda r: has_code(r["code"], ICD10, "I34.1") or has_code(r["code"], ICD10, "I05.0"),
        ),
    )
    q(
        g,
        "Condition?clinical-status=resolved",
        ids("Condition", lambda r: has_code(r.get("clinicalStatus"), None, "resolved")),
    )
    q(
        g,
        "Condition?clinical-status:not=active",
        ids("Condition", lambda r: not has_code(r.get("clinicalStatus"), None, "active")),
        why=":not returns resources with no matching value, including cond-008 with no "
        "clinicalStatus at all",
    )
    q(
        g,
        f"Condition?severity={SCT}|24484000",
        ids("Condition", lambda r: has_code(r.get("severity"), SCT, "24484000")),
    )
    q(g, f"Procedure?code={OPCS}|K35.8", all_of["Procedure"])
    q(
        g,
        f"Procedure?code={OPCS}|Z32.1",
        ids("Procedure", lambda r: has_code(r["code"], OPCS, "Z32.1")),
    )
    q(
        g,
        f"Procedure?code={SCT}|720583008&code={OPCS}|Y53.4",
        ids(
            "Procedure",
            lambda r: has_code(r["code"], SCT, "720583008") and has_code(r["code"], OPCS, "Y53.4"),
        ),
    )
    q(g, "Procedure?status=in-progress", ids("Procedure", status("in-progress")))
    q(
        g,
        f"Observation?code={LOINC}|10230-1",
        ids("Observation", lambda r: has_code(r["code"], LOINC, "10230-1")),
    )
    q(
        g,
        f"Observation?code={SCT}|250908004",
        ids("Observation", lambda r: has_code(r["code"], SCT, "250908004")),
        why="the LVEF observations carry both codings",
    )
    q(
        g,
        f"Observation?value-concept={SCT}|24484000",
        ids("Observation", lambda r: has_code(r.get("valueCodeableConcept"), SCT, "24484000")),
    )
    q(g, "Observation?status=preliminary", ids("Observation", status("preliminary")))
    q(g, f"Observation?category={OBS_CAT}|imaging", all_of["Observation"])
    q(g, f"Encounter?class={ACT}|VR", ids("Encounter", lambda r: r["class"]["code"] == "VR"))
    q(g, "Encounter?status=planned", ids("Encounter", status("planned")))
    q(g, "Patient?telecom=020 7001 1007", ["Patient/pat-001"])
    q(g, "Patient?phone=020 7009 1063", [], why="pat-009 has no telecom")
    q(g, "Patient?email=patient5@example.org", ["Patient/pat-005"])
    q(g, "HealthcareService?active=false", ["HealthcareService/hcs-barts"])
    q(g, "Practitioner?active:not=false", ids("Practitioner", lambda r: r["active"]))
    q(
        g,
        "Condition?code:text=mitral",
        ids(
            "Condition",
            lambda r: starts(
                [r["code"]["text"], *(c["display"] for c in r["code"]["coding"])], "mitral"
            ),
        ),
        why=":text matches the text or a display, case-insensitive starts-with",
    )
    q(
        g,
        "Observation?code:text=nyha",
        ids("Observation", lambda r: has_code(r["code"], LOINC, "93124-6")),
    )
    q(
        g,
        "Observation?value-concept:text=nyha class ii",
        ids(
            "Observation",
            lambda r: starts(
                [(r.get("valueCodeableConcept") or {}).get("text", "")], "nyha class ii"
            ),
        ),
        why="starts-with: 'NYHA class III' starts with 'NYHA class II' too",
    )
    q(g, f"Patient?identifier:of-type={V2_0203}|MR|M00003", ["Patient/pat-003"])
    q(g, f"Patient?identifier:of-type={V2_0203}|MR|M00004", [], why="pat-004's MRN has no type")
    q(g, "Patient?identifier:text=x", [], why="no identifier has a type text")

    # -- date --
    g = "date"
    date_cases: list[tuple[str, str, Callable[[Resource], Any]]] = []
    for prefix in ("", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"):
        date_cases += [
            ("Patient", f"birthdate={prefix}1950", birth),
            ("Patient", f"birthdate={prefix}1952-03-15", birth),
            ("Observation", f"date={prefix}2025-11", eff),
            ("ServiceRequest", f"authored={prefix}2026-03-29", authored),
        ]
    for prefix in ("eq", "gt", "lt", "ge", "le"):
        date_cases.append(("Observation", f"date={prefix}2025-11-15", eff))
    date_cases += [
        ("Patient", "birthdate=1952", birth),
        ("Patient", "birthdate=1952-03", birth),
        ("Patient", "birthdate=1944-02-29", birth),
        ("Patient", "birthdate=lt1940", birth),
        ("Patient", "birthdate=ge1960-06-01", birth),
        (
            "Patient",
            "death-date=2026-10-25",
            lambda r: drange(r["deceasedDateTime"]) if "deceasedDateTime" in r else None,
        ),
        (
            "Patient",
            "death-date=2026-10-25T00:30:00Z",
            lambda r: drange(r["deceasedDateTime"]) if "deceasedDateTime" in r else None,
        ),
        ("ServiceRequest", "authored=2026-03-29T00:30:00Z", authored),
        ("ServiceRequest", "authored=2026-03-29T01:30:00+01:00", authored),
        ("ServiceRequest", "authored=2026-03-29T02:30:00Z", authored),
        ("ServiceRequest", "authored=2026-10-25", authored),
        ("ServiceRequest", "authored=2026-10-24", authored),
        ("ServiceRequest", "authored=2026-10-25T01:30:00+01:00", authored),
        ("ServiceRequest", "authored=2026-10-25T01:30:00Z", authored),
        ("ServiceRequest", "authored=2026-10-25T01:30:00+00:00", authored),
        ("ServiceRequest", "authored=gt2026-10-25T00:30:00Z", authored),
        ("ServiceRequest", "authored=ge2026-10-25T00:30:00Z", authored),
        ("ServiceRequest", "authored=lt2026-03-29T01:00:00Z", authored),
        ("ServiceRequest", "authored=2026-03", authored),
        ("ServiceRequest", "authored=ge2026-01-01&authored=lt2026-02-01", authored),
        (
            "ServiceRequest",
            "occurrence=2026-05",
            lambda r: period_range(r["occurrencePeriod"]) if "occurrencePeriod" in r else None,
        ),
        (
            "ServiceRequest",
            "occurrence=ge2026-12-01",
            lambda r: period_range(r["occurrencePeriod"]) if "occurrencePeriod" in r else None,
        ),
        (
            "ServiceRequest",
            "occurrence=lt2026-03-01",
            lambda r: period_range(r["occurrencePeriod"]) if "occurrencePeriod" in r else None,
        ),
        ("Procedure", "date=2026-03", performed),
        ("Procedure", "date=2026-03-15", performed),
        ("Procedure", "date=2026-10-25", performed),
        ("Procedure", "date=2026-10-25T00:15:00Z", performed),
        ("Procedure", "date=gt2030-01-01", performed),
        ("Procedure", "date=sa2026-06-30", performed),
        ("Procedure", "date=eb2026-01-01", performed),
        ("Procedure", "date=ne2026", performed),
        ("CarePlan", "date=2026-03-05", lambda r: period_range(r["period"])),
        ("CarePlan", "date=ge2026-10-01", lambda r: period_range(r["period"])),
        ("CarePlan", "date=sa2026-06-01", lambda r: period_range(r["period"])),
        ("Encounter", "date=2026-03-25", lambda r: period_range(r["period"])),
        ("Encounter", "date=ge2026-06-01", lambda r: period_range(r["period"])),
        ("Encounter", "date=2026-03-25T13:00:00Z", lambda r: period_range(r["period"])),
        ("Condition", "onset-date=2024", onset),
        ("Condition", "onset-date=2026-01", onset),
        ("Condition", "onset-date=le2000", onset),
        ("Condition", "onset-date=2025-12-25", onset),
        (
            "Condition",
            "abatement-date=2026-09-30",
            lambda r: drange(r["abatementDateTime"]) if "abatementDateTime" in r else None,
        ),
    ]
    for res_type, expr, target in date_cases:
        conds = []
        for part in expr.split("&"):
            value = part.split("=", 1)[1]
            m = re.match(r"^(eq|ne|gt|lt|ge|le|sa|eb)?(.*)$", value)
            assert m
            conds.append((m.group(1) or "eq", m.group(2)))

        def pred(r: Resource, conds: Any = conds, target: Any = target) -> bool:
            return all(date_match(p, v, target(r)) for p, v in conds)

        why = None
        if res_type == "Patient" and "1952-03-15" in expr:
            why = "pat-002 was born in 1952-03 (a month): eq needs the day to contain the month"
        elif res_type == "ServiceRequest" and "2026-10-2" in expr:
            why = (
                "DST ends 2026-10-25 01:00Z: 01:30+01:00 is 00:30Z, 01:30+00:00 is 01:30Z; "
                "00:15+01:00 is 2026-10-24T23:15Z; days are UTC days"
            )
        elif res_type == "ServiceRequest" and "2026-03-29" in expr:
            why = (
                "DST starts 2026-03-29 01:00Z: 00:30+00:00 is 00:30Z, 03:30+01:00 is 02:30Z; "
                "2026-03-28T23:30Z is the day before"
            )
        elif "ne" in expr.split("=")[1][:2]:
            why = "ne: the search range does not contain the target range (partial dates match)"
        elif res_type in ("CarePlan", "Encounter") or "occurrence" in expr:
            why = "a Period is a range; a missing end is open (ongoing)"
        elif res_type == "Procedure" and "2026-10-25" in expr:
            why = (
                "proc-002's period starts 2026-10-25T00:30:00+01:00 = 2026-10-24T23:30Z, so it "
                "is not within the UTC day; eq on a one-second value never contains a period"
            )
        elif res_type == "Procedure":
            why = "performedDateTime (partial 2026-03) or performedPeriod (open start or end)"
        q(g, f"{res_type}?{expr}", ids(res_type, pred), **({"why": why} if why else {}))
    q(
        g,
        "Condition?onset-date=ap1999-05-10",
        ["Condition/cond-004"],
        why="ap: no other onset within years of 1999",
    )

    # -- number --
    g = "number"

    def prob(r: Resource) -> Decimal | None:
        return Decimal(r["prediction"][0]["probabilityDecimal"].removeprefix("__DEC__"))

    for expr in (
        "2.3",
        "2.30",
        "2",
        "gt5",
        "ge8",
        "lt2.25",
        "le2.25",
        "ne2.3",
        "8",
        "sa2",
        "eb2.3",
        "0.9",
        "12.5",
    ):
        m = re.match(r"^(eq|ne|gt|lt|ge|le|sa|eb)?(.*)$", expr)
        assert m
        p, v = m.group(1) or "eq", m.group(2)
        q(
            g,
            f"RiskAssessment?probability={expr}",
            ids("RiskAssessment", number_is(p, v, prob)),
            why="eq uses the search value's precision: 2.3 is [2.25, 2.35), 2.30 is "
            "[2.295, 2.305), 2 is [1.5, 2.5); comparison prefixes (gt ... sa eb) ignore it",
        )
    q(g, "RiskAssessment?date=2026-03", ["RiskAssessment/risk-03"])
    err(g, "RiskAssessment?probability=abc")
    err(g, "RiskAssessment?probability=2.3.4")

    # -- quantity --
    g = "quantity"
    for expr in (
        "0.40",
        "0.4",
        "0.404",
        "55",
        "55.0",
        "gt55",
        "ge55",
        "lt0.4",
        "le0.4",
        "ne55",
        "gt100",
        "lt30",
    ):
        m = re.match(r"^(eq|ne|gt|lt|ge|le)?(.*)$", expr)
        assert m
        p, v = m.group(1) or "eq", m.group(2)
        q(
            g,
            f"Observation?value-quantity={expr}",
            ids("Observation", number_is(p, v, qty)),
            why="any unit: 0.40 is [0.395, 0.405), 0.4 is [0.35, 0.45), 55 is [54.5, 55.5)",
        )
    q(
        g,
        f"Observation?value-quantity=0.40|{UCUM}|cm2",
        ids(
            "Observation",
            lambda r: num_match("eq", "0.40", qty(r)) and r["valueQuantity"].get("code") == "cm2",
        ),
        why="obs with 0.404 cm² has no system/code",
    )
    q(
        g,
        "Observation?value-quantity=55||%",
        ids(
            "Observation",
            lambda r: num_match("eq", "55", qty(r)) and r["valueQuantity"].get("code") == "%",
        ),
        why="||code matches code or unit",
    )
    q(
        g,
        f"Observation?value-quantity=ge60|{UCUM}|mL",
        ids(
            "Observation",
            lambda r: num_match("ge", "60", qty(r)) and r["valueQuantity"].get("code") == "mL",
        ),
    )
    q(g, f"Observation?value-quantity=55|{UCUM}|mL", [])
    q(
        g,
        "Observation?value-quantity=ap55",
        ids(
            "Observation",
            lambda r: Decimal("49.5") <= (qty(r) or Decimal(0)) <= Decimal("60.5"),
        ),
        why="ap: about 10% of 55 either side; no value lies in 45-52 or 58-65",
        unsure=True,
    )
    q(
        g,
        f"Observation?component-value-quantity=gt0.5|{UCUM}|cm2",
        ids(
            "Observation",
            lambda r: any(
                Decimal(c["valueQuantity"]["value"][7:]) > Decimal("0.5")
                and c["valueQuantity"]["code"] == "cm2"
                for c in r.get("component", [])
            ),
        ),
    )
    err(g, "Observation?value-quantity=big")

    # -- reference --
    g = "reference"

    def sr_subject(target: str) -> list[str]:
        return ids("ServiceRequest", lambda r: target in refs(r, "subject"))

    q(
        g,
        "ServiceRequest?subject=Patient/pat-001",
        sr_subject("Patient/pat-001"),
        why="sr-061 refers to pat-001 with an absolute URL on this server's base",
    )
    q(g, "ServiceRequest?subject=pat-001", sr_subject("Patient/pat-001"))
    q(g, f"ServiceRequest?subject={BASE}/Patient/pat-001", sr_subject("Patient/pat-001"))
    q(g, "ServiceRequest?subject:Patient=pat-002", sr_subject("Patient/pat-002"))
    q(g, "ServiceRequest?patient=Patient/pat-003", sr_subject("Patient/pat-003"))
    q(
        g,
        "ServiceRequest?subject=Patient/pat-001,Patient/pat-002",
        sorted(set(sr_subject("Patient/pat-001")) | set(sr_subject("Patient/pat-002"))),
    )
    q(
        g,
        f"ServiceRequest?subject:identifier={NHS}|{nhs1}",
        ["ServiceRequest/sr-061"],
        why=":identifier matches Reference.identifier only, not the referenced Patient",
    )
    q(
        g,
        f"ServiceRequest?requester:identifier={GMC}|",
        ids("ServiceRequest", lambda r: "identifier" in r.get("requester", {})),
    )
    q(
        g,
        "ServiceRequest?requester=Practitioner/prac-03",
        ids("ServiceRequest", lambda r: "Practitioner/prac-03" in refs(r, "requester")),
    )
    q(
        g,
        "ServiceRequest?requester=https://fhir.kch.nhs.uk/Practitioner/ext-77",
        ["ServiceRequest/sr-061"],
        why="an absolute URL on another server is matched as given",
    )
    q(
        g,
        "ServiceRequest?performer:HealthcareService=hcs-rj122",
        ids("ServiceRequest", lambda r: "HealthcareService/hcs-rj122" in refs(r, "performer")),
    )
    q(
        g,
        "ServiceRequest?performer:Organization=org-rj122",
        ids("ServiceRequest", lambda r: "Organization/org-rj122" in refs(r, "performer")),
    )
    q(g, "Procedure?based-on=ServiceRequest/sr-011", ["Procedure/proc-001"])
    q(
        g,
        "Procedure?performer=Practitioner/prac-02",
        ids(
            "Procedure", lambda r: r["performer"][0]["actor"]["reference"] == "Practitioner/prac-02"
        ),
    )
    q(
        g,
        "Encounter?service-provider=Organization/org-ryj03",
        ids("Encounter", lambda r: r["serviceProvider"]["reference"] == "Organization/org-ryj03"),
    )
    q(
        g,
        "Organization?partof=Organization/org-rj1",
        ["Organization/org-rj122", "Organization/org-rj181", "Organization/org-rj182"],
    )
    q(g, "HealthcareService?organization=org-barts", ["HealthcareService/hcs-barts"])
    q(
        g,
        "Patient?organization=Organization/org-rjz",
        ids(
            "Patient",
            lambda r: r.get("managingOrganization", {}).get("reference") == "Organization/org-rjz",
        ),
    )
    q(g, "CarePlan?based-on=ServiceRequest/sr-001", ["CarePlan/cp-001"])
    q(
        g,
        "Condition?subject=Patient/pat-040",
        ids("Condition", lambda r: r["subject"]["reference"] == "Patient/pat-040"),
    )
    q(g, "Observation?subject=Patient/nope", [])
    q(g, "Observation?subject:Group=pat-001", [], why="pat-001 is a Patient, not a Group")

    # -- uri --
    g = "uri"
    q(
        g,
        f"CarePlan?instantiates-uri={NICE}/ng208",
        ids("CarePlan", lambda r: f"{NICE}/ng208" in r.get("instantiatesUri", [])),
    )
    q(g, f"CarePlan?instantiates-uri={NICE}", [], why="uri equality is exact")
    q(
        g,
        f"CarePlan?instantiates-uri:below={NICE}",
        ids("CarePlan", lambda r: "instantiatesUri" in r),
    )
    q(
        g,
        f"Procedure?instantiates-uri:above={NICE}/ipg309/chapter/1-recommendations",
        ids("Procedure", lambda r: "instantiatesUri" in r),
    )
    q(
        g,
        f"ServiceRequest?instantiates-uri:below={NICE}/ng208",
        ids("ServiceRequest", lambda r: "instantiatesUri" in r),
    )

    # -- composite --
    g = "composite"
    q(
        g,
        f"Observation?code-value-quantity={LOINC}|10230-1$lt40",
        ids(
            "Observation",
            lambda r: has_code(r["code"], LOINC, "10230-1") and num_match("lt", "40", qty(r)),
        ),
    )
    q(
        g,
        f"Observation?code-value-quantity={LOINC}|80071-4$0.40|{UCUM}|cm2",
        ids(
            "Observation",
            lambda r: (
                has_code(r["code"], LOINC, "80071-4")
                and num_match("eq", "0.40", qty(r))
                and r["valueQuantity"].get("code") == "cm2"
            ),
        ),
    )
    q(
        g,
        f"Observation?code-value-concept={LOINC}|93124-6${SCT}|420913000",
        ids(
            "Observation",
            lambda r: (
                has_code(r["code"], LOINC, "93124-6")
                and has_code(r.get("valueCodeableConcept"), SCT, "420913000")
            ),
        ),
    )

    def comp(code: str, prefix: str, value: str) -> Callable[[Resource], bool]:
        return lambda r: any(
            has_code(c["code"], LOINC, code)
            and num_match(prefix, value, Decimal(c["valueQuantity"]["value"][7:]))
            for c in r.get("component", [])
        )

    q(
        g,
        f"Observation?component-code-value-quantity={LOINC}|80071-4$ge0.4",
        ids("Observation", comp("80071-4", "ge", "0.4")),
    )
    q(
        g,
        f"Observation?component-code-value-quantity={LOINC}|80064-9$gt60",
        ids("Observation", comp("80064-9", "gt", "60")),
    )
    q(
        g,
        f"Observation?component-code-value-quantity={LOINC}|80071-4$gt60",
        [],
        why="both halves must match the same component: no EROA above 60",
    )
    q(
        g,
        f"Observation?component-code-value-quantity={LOINC}|80071-4$ge0.4"
        f"&component-code-value-quantity={LOINC}|80064-9$lt70",
        ids(
            "Observation",
            lambda r: comp("80071-4", "ge", "0.4")(r) and comp("80064-9", "lt", "70")(r),
        ),
    )
    q(
        g,
        f"Observation?combo-code-value-quantity={LOINC}|80071-4$0.20",
        ids(
            "Observation",
            lambda r: (
                comp("80071-4", "eq", "0.20")(r)
                or (has_code(r["code"], LOINC, "80071-4") and num_match("eq", "0.20", qty(r)))
            ),
        ),
    )

    # -- :missing on every type --
    g = "missing"
    q(g, "Patient?birthdate:missing=true", ["Patient/pat-009"])
    q(g, "Patient?birthdate:missing=false", ids("Patient", lambda r: "birthDate" in r))
    q(g, "Patient?name:missing=false", all_of["Patient"])
    q(g, "Patient?address-postalcode:missing=true", ["Patient/pat-009"])
    q(
        g,
        "Patient?email:missing=false",
        ids("Patient", lambda r: any(t["system"] == "email" for t in r.get("telecom", []))),
    )
    q(
        g,
        "ServiceRequest?requester:missing=true",
        ids("ServiceRequest", lambda r: "requester" not in r),
        why="logical (identifier-only) requesters are not missing",
    )
    q(
        g,
        "ServiceRequest?occurrence:missing=true",
        ids("ServiceRequest", lambda r: "occurrencePeriod" not in r),
    )
    q(
        g,
        "ServiceRequest?performer:missing=false",
        ids("ServiceRequest", lambda r: "performer" in r),
    )
    q(g, "Condition?clinical-status:missing=true", ["Condition/cond-008"])
    q(
        g,
        "Condition?onset-date:missing=true",
        ["Condition/cond-007"],
        why="cond-006 has an onsetPeriod, which onset-date covers",
    )
    q(g, "Condition?severity:missing=false", ids("Condition", lambda r: "severity" in r))
    q(
        g,
        "Observation?value-quantity:missing=true",
        ids("Observation", lambda r: "valueQuantity" not in r),
    )
    q(
        g,
        "Observation?component-code-value-quantity:missing=false",
        ids("Observation", lambda r: "component" in r),
    )
    q(g, "RiskAssessment?probability:missing=false", all_of["RiskAssessment"])
    q(
        g,
        "CarePlan?instantiates-uri:missing=true",
        ids("CarePlan", lambda r: "instantiatesUri" not in r),
    )
    q(g, "Procedure?date:missing=true", ids("Procedure", lambda r: performed(r) is None))
    q(g, "HealthcareService?specialty:missing=true", ["HealthcareService/hcs-ryj03"])

    # -- chains --
    g = "chain"
    p1_srs = sr_subject("Patient/pat-001")
    q(
        g,
        f"ServiceRequest?subject:Patient.identifier={NHS}|{nhs1}",
        p1_srs,
        why="the chain resolves the reference (absolute or relative) and tests the Patient",
    )
    q(
        g,
        "ServiceRequest?subject.name=bronte",
        ids(
            "ServiceRequest",
            lambda r: any(
                starts(name_parts(by_ref(t) or {}), "bronte") for t in refs(r, "subject")
            ),
        ),
    )
    q(g, "ServiceRequest?patient.gender=unknown", sr_subject("Patient/pat-009"))
    q(
        g,
        "Observation?subject:Patient.birthdate=lt1945",
        ids(
            "Observation",
            lambda r: any(
                date_match("lt", "1945", birth(by_ref(t) or {})) for t in refs(r, "subject")
            ),
        ),
    )
    q(
        g,
        f"Patient?organization.identifier={ODS_ORG}|RJZ",
        ids(
            "Patient",
            lambda r: r.get("managingOrganization", {}).get("reference") == "Organization/org-rjz",
        ),
    )
    rjz_pats = set(
        ids(
            "Patient",
            lambda r: r.get("managingOrganization", {}).get("reference") == "Organization/org-rjz",
        )
    )
    q(
        g,
        f"ServiceRequest?subject:Patient.organization.identifier={ODS_ORG}|RJZ",
        ids("ServiceRequest", lambda r: any(t in rjz_pats for t in refs(r, "subject"))),
        why="two levels: referral -> patient -> managing organisation",
    )
    q(
        g,
        f"Procedure?performer:Practitioner.identifier={GMC}|7101462",
        ids(
            "Procedure", lambda r: r["performer"][0]["actor"]["reference"] == "Practitioner/prac-02"
        ),
    )
    q(
        g,
        "Procedure?based-on:ServiceRequest.requester:Practitioner.name=siobhan",
        ids(
            "Procedure",
            lambda r: any(
                "Practitioner/prac-01" in refs(by_ref(t) or {}, "requester")
                for t in refs(r, "basedOn")
            ),
        ),
    )
    q(
        g,
        "Organization?partof.identifier=RJ1",
        ["Organization/org-rj122", "Organization/org-rj181", "Organization/org-rj182"],
    )
    q(g, "HealthcareService?organization.partof.name=barts", ["HealthcareService/hcs-barts"])
    q(
        g,
        "Encounter?service-provider.address-postalcode=W12",
        ids("Encounter", lambda r: r["serviceProvider"]["reference"] == "Organization/org-ryj03"),
    )
    q(g, "ServiceRequest?subject.name=nobody", [])

    # -- reverse chains --
    g = "has"

    def subjects(res_type: str, pred: Callable[[Resource], bool]) -> set[str]:
        return {t for r in of_type(res_type) if pred(r) for t in refs(r, "subject")}

    mr = subjects("Condition", lambda r: has_code(r["code"], ICD10, "I34.0"))
    q(
        g,
        f"Patient?_has:Condition:subject:code={ICD10}|I34.0",
        sorted(mr, key=lambda k: k.split("/")[1]),
    )
    q(
        g,
        "Patient?_has:Condition:subject:code=I05.0",
        sorted(subjects("Condition", lambda r: has_code(r["code"], None, "I05.0"))),
    )
    q(
        g,
        "Patient?_has:Observation:patient:value-concept=422293003",
        sorted(
            subjects(
                "Observation", lambda r: has_code(r.get("valueCodeableConcept"), None, "422293003")
            )
        ),
    )
    q(
        g,
        "Patient?_has:ServiceRequest:subject:status=revoked&gender=male",
        sorted(
            p
            for p in subjects("ServiceRequest", status("revoked"))
            if (by_ref(p) or {}).get("gender") == "male"
        ),
    )
    done_srs = {
        t for r in of_type("Procedure") if r["status"] == "completed" for t in refs(r, "basedOn")
    }
    q(
        g,
        "Patient?_has:ServiceRequest:subject:_has:Procedure:based-on:status=completed",
        sorted(subjects("ServiceRequest", lambda r: key(r) in done_srs)),
        why="nested: patients with a referral that a completed procedure is based on",
    )
    q(
        g,
        "ServiceRequest?_has:Procedure:based-on:status=in-progress",
        sorted(
            {
                t
                for r in of_type("Procedure")
                if r["status"] == "in-progress"
                for t in refs(r, "basedOn")
            }
        ),
    )
    q(
        g,
        "Organization?_has:Encounter:service-provider:class=VR",
        sorted(
            {
                r["serviceProvider"]["reference"]
                for r in of_type("Encounter")
                if r["class"]["code"] == "VR"
            }
        ),
    )
    q(
        g,
        "Practitioner?_has:Procedure:performer:status=in-progress",
        sorted(
            {
                r["performer"][0]["actor"]["reference"]
                for r in of_type("Procedure")
                if r["status"] == "in-progress"
            }
        ),
    )
    q(g, "Patient?_has:Condition:subject:code=Z99.9", [])

    # -- _include / _revinclude --
    g = "include"
    sr1 = next(r for r in srs if r["id"] == "sr-001")
    q(
        g,
        "ServiceRequest?_id=sr-001&_include=ServiceRequest:subject",
        ["ServiceRequest/sr-001"],
        included=["Patient/pat-001"],
    )
    q(
        g,
        "ServiceRequest?_id=sr-001&_include=ServiceRequest:subject:Patient",
        ["ServiceRequest/sr-001"],
        included=["Patient/pat-001"],
    )
    q(
        g,
        "ServiceRequest?_id=sr-001&_include=ServiceRequest:subject:Group",
        ["ServiceRequest/sr-001"],
        included=[],
    )
    inc_all = sorted({t for f in ("subject", "requester", "performer") for t in refs(sr1, f)})
    q(
        g,
        "ServiceRequest?_id=sr-001&_include=ServiceRequest:*",
        ["ServiceRequest/sr-001"],
        included=inc_all,
        why="every reference parameter",
        unsure=True,
    )
    q(
        g,
        "ServiceRequest?_id=sr-061&_include=ServiceRequest:requester",
        ["ServiceRequest/sr-061"],
        included=[],
        why="the requester lives on another server",
    )
    q(
        g,
        "ServiceRequest?_id=sr-061&_include=ServiceRequest:subject",
        ["ServiceRequest/sr-061"],
        included=["Patient/pat-001"],
        why="absolute URL on this server's base resolves",
    )
    q(
        g,
        "ServiceRequest?_id=sr-001,sr-051&_include=ServiceRequest:subject",
        ["ServiceRequest/sr-001", "ServiceRequest/sr-051"],
        included=["Patient/pat-001"],
        why="sr-051 is pat-001's too: included once",
    )
    q(
        g,
        "Procedure?_id=proc-001&_include=Procedure:based-on"
        "&_include:iterate=ServiceRequest:subject",
        ["Procedure/proc-001"],
        included=sorted(
            ["ServiceRequest/sr-011", *refs(by_ref("ServiceRequest/sr-011") or {}, "subject")]
        ),
    )
    q(
        g,
        "Procedure?_id=proc-001&_include=Procedure:based-on&_include=ServiceRequest:subject",
        ["Procedure/proc-001"],
        included=["ServiceRequest/sr-011"],
        why="without :iterate the second include applies to the matches only",
    )
    q(
        g,
        "Organization?_id=org-rj122&_include=Organization:partof",
        ["Organization/org-rj122"],
        included=["Organization/org-rj1"],
    )
    q(
        g,
        "Procedure?_id=proc-004&_include=Procedure:performer",
        ["Procedure/proc-004"],
        included=["Practitioner/prac-05"],
        why="the performer parameter is Procedure.performer.actor: not onBehalfOf",
    )
    pat1_srs = sr_subject("Patient/pat-001")
    q(
        g,
        "Patient?_id=pat-001&_revinclude=ServiceRequest:subject",
        ["Patient/pat-001"],
        included=pat1_srs,
    )
    q(
        g,
        "Patient?_id=pat-001&_revinclude=ServiceRequest:subject"
        "&_revinclude:iterate=Procedure:based-on",
        ["Patient/pat-001"],
        included=sorted(
            pat1_srs + ids("Procedure", lambda r: any(t in pat1_srs for t in refs(r, "basedOn")))
        ),
    )
    q(
        g,
        "Organization?_id=org-rj1&_revinclude=Organization:partof",
        ["Organization/org-rj1"],
        included=["Organization/org-rj122", "Organization/org-rj181", "Organization/org-rj182"],
    )
    q(
        g,
        "Patient?_id=pat-002&_revinclude=*",
        ["Patient/pat-002"],
        included=sorted(
            key(r)
            for r in RESOURCES
            if r["resourceType"] != "Patient"
            and any(str(v) == "Patient/pat-002" for v in _all_refs(r))
        ),
        unsure=True,
        why="_revinclude=* : every resource referring to pat-002 through any reference parameter",
    )
    err(g, "Patient?_include=Patient:colour")
    err(g, "Patient?_include=Nonsense:subject")

    # -- _sort --
    g = "sort"
    full = [p for p in pats if len(p.get("birthDate", "")) == 10]
    assert len({p["birthDate"] for p in full}) == len(full), "birth dates must be unique"
    birth_sorted = [key(p) for p in sorted(full, key=lambda p: p["birthDate"])]
    ten = sorted(key(p) for p in full)[:10]
    q(
        g,
        "Patient?_id=" + ",".join(k.split("/")[1] for k in ten) + "&_sort=birthdate",
        [k for k in birth_sorted if k in ten],
    )
    q(
        g,
        "Patient?_id=" + ",".join(k.split("/")[1] for k in ten) + "&_sort=-birthdate",
        [k for k in reversed(birth_sorted) if k in ten],
    )
    q(
        g,
        "Patient?_id=pat-004,pat-005,pat-008,pat-009&_sort=family",
        ["Patient/pat-009", "Patient/pat-004", "Patient/pat-005", "Patient/pat-008"],
    )
    q(
        g,
        "Patient?_id=pat-004,pat-005,pat-008,pat-009&_sort=-family",
        ["Patient/pat-008", "Patient/pat-005", "Patient/pat-004", "Patient/pat-009"],
    )
    err(g, "Patient?_sort=colour")
    auth_sorted = sorted(srs, key=lambda r: drange(r["authoredOn"])[0])
    q(
        g,
        "ServiceRequest?_sort=authored&_count=100",
        [key(r) for r in auth_sorted],
        why="instants compare in UTC: the DST referrals interleave by their UTC time",
    )
    q(
        g,
        "ServiceRequest?_sort=-authored&_count=10",
        [key(r) for r in auth_sorted[::-1][:10]],
        first_page=True,
    )
    q(
        g,
        "ServiceRequest?_sort=-authored&_count=10",
        [key(r) for r in auth_sorted[::-1]],
        why="paging keeps the sort across pages",
    )
    by_status = sorted(srs, key=lambda r: (r["status"], drange(r["authoredOn"])[0]))
    q(
        g,
        "ServiceRequest?_sort=status,authored&_count=100",
        [key(r) for r in by_status],
        why="multi-key: status, then authored within a status",
    )
    by_status_desc = sorted(
        srs, key=lambda r: (r["status"], -drange(r["authoredOn"])[0].timestamp())
    )
    q(g, "ServiceRequest?_sort=status,-authored&_count=100", [key(r) for r in by_status_desc])
    q(g, "ServiceRequest?_sort=_id&_count=100", all_of["ServiceRequest"])
    q(g, "ServiceRequest?_sort=-_id&_count=100", all_of["ServiceRequest"][::-1])
    orgs_named = sorted(of_type("Organization"), key=lambda r: fold(r["name"]))
    q(g, "Organization?_sort=name", [key(r) for r in orgs_named])
    lv = [
        r
        for r in of_type("Observation")
        if has_code(r["code"], LOINC, "10230-1") and qty(r) is not None
    ]
    lv_unique = [r for r in lv if r["valueQuantity"]["value"] != "__DEC__55.0"]
    q(
        g,
        f"Observation?code={LOINC}|10230-1&value-quantity=ne55&_sort=-value-quantity",
        [
            key(r)
            for r in sorted(lv_unique, key=lambda r: -(qty(r) or 0))
            if not num_match("eq", "55", qty(r))
        ],
    )
    q(
        g,
        "Encounter?_sort=-date",
        [
            key(r)
            for r in sorted(
                of_type("Encounter"), key=lambda r: period_range(r["period"])[0], reverse=True
            )
        ],
        why="closed MDT periods that never overlap: start or end order agree",
    )

    # -- _elements, _summary --
    g = "elements"
    q(
        g,
        "Patient?_id=pat-001&_elements=name,birthDate",
        ["Patient/pat-001"],
        keys=["birthDate", "name"],
        keys_absent=["address", "telecom", "identifier", "gender"],
    )
    q(
        g,
        "Observation?_id=obs-001&_elements=code",
        ["Observation/obs-001"],
        keys=["code"],
        keys_absent=["subject", "valueQuantity", "effectiveDateTime", "category"],
        why="mandatory elements (status) may come back too",
    )
    q(
        g,
        "Condition?_id=cond-001&_summary=true",
        ["Condition/cond-001"],
        keys=["code", "subject"],
        keys_absent=["note"],
        why="Condition.note is not a summary element",
    )
    q(
        g,
        "Condition?_id=cond-001&_summary=data",
        ["Condition/cond-001"],
        keys=["note", "code"],
        keys_absent=["text"],
    )
    q(
        g,
        "Condition?code=I34.0&_summary=count",
        [],
        total=len(ids("Condition", lambda r: has_code(r["code"], ICD10, "I34.0"))),
    )
    q(
        g,
        "Condition?_summary=count&clinical-status=active",
        [],
        total=len(ids("Condition", lambda r: has_code(r.get("clinicalStatus"), None, "active"))),
    )

    # -- compartment search --
    g = "compartment"
    q(g, "Patient/pat-001/ServiceRequest", sr_subject("Patient/pat-001"))
    q(
        g,
        "Patient/pat-001/ServiceRequest?status=active",
        [k for k in sr_subject("Patient/pat-001") if (by_ref(k) or {})["status"] == "active"],
    )
    q(
        g,
        "Patient/pat-002/Condition",
        ids("Condition", lambda r: "Patient/pat-002" in refs(r, "subject")),
    )
    q(
        g,
        "Patient/pat-011/Observation",
        ids("Observation", lambda r: "Patient/pat-011" in refs(r, "subject")),
    )
    q(g, "Patient/nope/ServiceRequest", [])

    # -- POST _search gives the same as GET --
    g = "post"
    for row in [r for r in QUERIES if r["group"] in ("string", "token", "date")][::9]:
        query = row["query"]
        res_type, _, form = query.partition("?")
        q(g, res_type, row["expect"], method="POST", form=form, same_as=row["id"])

    # -- errors that need the engine --
    g = "errors-engine"
    err(g, "Patient?birthdate=2026-02-30")
    err(g, "Patient?birthdate=xx1950")
    err(g, "Patient?birthdate=1950-1-1")
    err(g, "ServiceRequest?authored=2026-10-25T25:00:00Z")
    err(g, "Patient?name:foo=bronte")
    err(g, "Patient?gender:below=female")
    err(g, "Patient?birthdate:exact=1950")
    err(g, "Observation?value-quantity=gt")
    err(g, "ServiceRequest?subject:Patient.colour=blue")
    err(g, "Patient?_has:Condition:subject:colour=x")
    err(g, "Patient?birthdate:missing=perhaps")
    err(g, f"Observation?code-value-quantity={LOINC}|10230-1")


def _all_refs(r: Any) -> Iterable[str]:
    if isinstance(r, dict):
        if isinstance(r.get("reference"), str):
            yield r["reference"].removeprefix(BASE + "/")
        for v in r.values():
            yield from _all_refs(v)
    elif isinstance(r, list):
        for v in r:
            yield from _all_refs(v)


def main() -> None:
    build()
    queries()
    entries = [
        {"fullUrl": f"{BASE}/{key(r)}", "resource": r, "request": {"method": "PUT", "url": key(r)}}
        for r in RESOURCES
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    text = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
    text = re.sub(r'"__DEC__([-0-9.eE+]+)"', r"\1", text)
    text = text.replace(',{"fullUrl"', ',\n{"fullUrl"')
    (HERE / "pathway-bundle.json").write_text(text + "\n", encoding="utf-8")
    (HERE / "queries.json").write_text(
        json.dumps(QUERIES, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    counts: dict[str, int] = {}
    for r in RESOURCES:
        counts[r["resourceType"]] = counts.get(r["resourceType"], 0) + 1
    groups: dict[str, int] = {}
    for row in QUERIES:
        groups[row["group"]] = groups.get(row["group"], 0) + 1
    print(len(RESOURCES), counts, len(text.encode()), "bytes")  # noqa: T201
    print(len(QUERIES), groups)  # noqa: T201


if __name__ == "__main__":
    main()
