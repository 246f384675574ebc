"""Real-looking King's REF^I12 messages and the cut-down mapping the pipeline tests use
(independent of the shipped mappings, so these tests pin the pipeline, not a centre)."""

from __future__ import annotations

import random
from typing import Any

import httpx

SPEC = """
centre: kings
name: King's College Hospital
ods: {organization: RJZ, site: RJZ01, name: King's College Hospital NHS Foundation Trust}
source: hl7v2
hl7: {versions: ["2.4"]}
identifiers:
  mrn: https://fhir.kch.nhs.uk/Id/mrn
  referral: https://fhir.kch.nhs.uk/Id/referral
terminology:
  local_system: https://fhir.southlondon-mitral.nhs.uk/CodeSystem/local-kings
  concept_map: https://fhir.southlondon-mitral.nhs.uk/ConceptMap/local-kings
rules:
  REF^I12:
    ignore: [PRD-1, PRD-2, PRD-7.2, RF1-1.2, RF1-1.3, RF1-2, RF1-5, RF1-6.2, DG1-1, DG1-3.2,
             DG1-3.3, PID-1, PID-3.4]
    resources:
      - alias: patient
        type: Patient
        identity: nhs-number
        key: [{each: PID-3, where: {PID-3.5: NH}, from: PID-3.1, as: nhs-number}]
        template:
          meta: {profile: ["https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/MV-Patient"]}
          identifier:
            - system: https://fhir.nhs.uk/Id/nhs-number
              value: {each: PID-3, where: {PID-3.5: NH}, from: PID-3.1, as: nhs-number}
            - {system: $id.mrn, value: {each: PID-3, where: {PID-3.5: MR}, from: PID-3.1}}
          name: [{family: {from: PID-5.1}, given: [{from: PID-5.2}], prefix: [{from: PID-5.5}]}]
          birthDate: {from: PID-7, as: date}
          gender: {from: PID-8, map: {M: male, F: female, U: unknown}}
      - alias: referral
        type: ServiceRequest
        key: [{from: RF1-6.1, required: true}]
        template:
          meta: {profile: ["https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/MV-Referral"]}
          identifier: [{system: $id.referral, value: {from: RF1-6.1}}]
          status:
            from: RF1-1.1
            map: {P: active, A: active, R: revoked, E: completed}
            required: true
          intent: order
          category:
            - coding:
                - system: https://fhir.southlondon-mitral.nhs.uk/CodeSystem/pathway-stage
                  code: referred
                  display: Referred
          code:
            coding:
              - system: "http://snomed.info/sct"
                code: "306302005"
                display: Referral to cardiac surgeon
          subject: {ref: patient}
          requester: {ref: {type: Organization, identity: ods, key: [{from: PRD-7.1}]}}
          performer: [{ref: {type: Organization, identity: ods, key: [{const: $ods.organization}]}}]
          authoredOn: {from: RF1-7, as: dateTime, required: true}
          reasonCode: [{coding: {translate: DG1-3.1, target: "http://snomed.info/sct"}}]
"""

FAMILIES = ["OKONKWO", "SMITH", "PATEL", "JONES", "NGUYEN", "O'BRIEN", "KOWALSKI", "AHMED"]
GIVEN = ["Adaeze", "John", "Priya", "Margaret", "Thanh", "Siobhan", "Piotr", "Fatima"]


def nhs_number(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def referral(
    n: int,
    *,
    nhs: str,
    status: str = "A",
    received: str = "20260312093000",
    reason: str = "52010",
    version: str = "2.4",
    trigger: str = "REF^I12^REF_I12",
    extra: str = "",
) -> str:
    family, given = FAMILIES[n % len(FAMILIES)], GIVEN[n % len(GIVEN)]
    return "\r".join(
        [
            f"MSH|^~\\&|KCH-EPR|KCH|MITRAL-FHIR|SLMVN|20260312093015||{trigger}|KCH{n:08d}|P|{version}",
            f"RF1|{status}^Accepted^HL70283|R^Routine^HL70280|||O^Outpatient^HL70284|"
            f"KCH-REF-{n:06d}^KCH|{received}",
            "PRD|RP^Referring provider^HL70286|HUSSAIN^Amir^^^Dr|||||G85011^ODS",
            f"PID|1||{nhs}^^^NHS^NH~K{n:07d}^^^KCH^MR||{family}^{given}^^^Mrs||19480314|F",
            f"DG1|1||{reason}^MR - severe^99KCH",
            *([extra] if extra else []),
        ]
    )


def feed(count: int, seed: int = 7) -> str:
    """``count`` referrals for distinct patients, one message after another."""
    rng = random.Random(seed)
    return "\n".join(referral(n, nhs=nhs_number(rng)) for n in range(count)) + "\n"


HL7 = {"content-type": "x-application/hl7-v2+er7"}


async def push(http: httpx.AsyncClient, body: str) -> dict[str, Any]:
    """POST ER7 to King's ingest route; the receipt."""
    response = await http.post("/ingest/kings", content=body.encode(), headers=HL7)
    assert response.status_code == 200, response.text
    receipt: dict[str, Any] = response.json()
    return receipt
