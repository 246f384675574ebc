"""The code lists pathway derivation reads, in one place so a new code is one line here.

Sources: ``terminology/codesystems`` (pathway-stage, mdt-outcome, mr-aetiology,
surgical-approach, the SNOMED CT and OPCS-4 subsets), ``terminology/valuesets``
(valve-procedures-*) and ``mappings/*.yaml`` (each centre's ODS codes and identifier systems;
``tests/pathway/test_derive.py`` checks the centre table against them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.ingest.mapping.engine import organization_id

BASE = "https://fhir.southlondon-mitral.nhs.uk"
PROFILE_REFERRAL = f"{BASE}/StructureDefinition/MV-Referral"
PROFILE_INTERVENTION = f"{BASE}/StructureDefinition/MV-InterventionRequest"
PROFILE_PATHWAY = f"{BASE}/StructureDefinition/MV-Pathway"
EXT_CURRENT_STAGE = f"{BASE}/StructureDefinition/Extension-MV-CurrentStage"
EXT_MDT_OUTCOME = f"{BASE}/StructureDefinition/Extension-MV-MdtOutcome"
EXT_MR_AETIOLOGY = f"{BASE}/StructureDefinition/Extension-MV-MrAetiology"
EXT_APPROACH = f"{BASE}/StructureDefinition/Extension-MV-SurgicalApproach"
MDT_OUTCOME = f"{BASE}/CodeSystem/mdt-outcome"
MR_AETIOLOGY = f"{BASE}/CodeSystem/mr-aetiology"
REFERRAL_SOURCE = f"{BASE}/CodeSystem/referral-source"
APPROACH = f"{BASE}/CodeSystem/surgical-approach"
SNOMED = "http://snomed.info/sct"
OPCS4 = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
LOINC = "http://loinc.org"
ODS_ORG = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"

STAGE_DISPLAY: dict[str, str] = {
    "referred": "Referred",
    "triaged": "Triaged",
    "work-up": "Work-up",
    "heart-team-review": "Heart-team review",
    "decision": "Decision",
    "decision-surgery": "Decision: conventional surgery",
    "decision-minimal-access-surgery": "Decision: minimal access surgery",
    "decision-transcatheter-repair": "Decision: transcatheter repair",
    "decision-transcatheter-replacement": "Decision: transcatheter replacement",
    "decision-medical-therapy": "Decision: medical therapy",
    "decision-declined": "Decision: intervention declined",
    "treatment-scheduled": "Treatment scheduled",
    "treated": "Treated",
    "follow-up": "Follow-up",
    "discharged": "Discharged",
    "declined": "Declined",
    "died": "Died",
    "not-suitable": "Not suitable",
}

EXITS = ("declined", "died", "not-suitable")

# mdt-outcome code -> (decision stage or None, exit or None). Second-look outcomes
# (further-investigation, deferred) decide nothing: another MDT follows.
MDT_DECISION: dict[str, tuple[str | None, str | None]] = {
    "surgery": ("decision-surgery", None),
    "conventional-surgery": ("decision-surgery", None),
    "minimal-access-surgery": ("decision-minimal-access-surgery", None),
    "transcatheter": ("decision", None),
    "transcatheter-repair": ("decision-transcatheter-repair", None),
    "transcatheter-replacement": ("decision-transcatheter-replacement", None),
    "medical-therapy": ("decision-medical-therapy", None),
    "declined-by-patient": ("decision-declined", "declined"),
    "not-suitable": (None, "not-suitable"),
}

# mr-aetiology children roll up to the three codes metrics report.
AETIOLOGY = {
    "primary": "primary",
    "secondary": "secondary",
    "secondary-ventricular": "secondary",
    "secondary-atrial": "secondary",
    "mixed": "mixed",
}

# Procedure codes -> (modality before approach is considered, repair?). SNOMED first: a TMVR
# also carries OPCS K25.4, which alone would read as surgical replacement.
SNOMED_PROCEDURE: dict[str, tuple[str, bool]] = {
    "865051000000105": ("transcatheter-repair", True),
    "1237589003": ("transcatheter-repair", True),
    "1231449003": ("transcatheter-repair", True),
    "1255141008": ("transcatheter-repair", True),
    "720583008": ("transcatheter-replacement", False),
    "1231726001": ("transcatheter-replacement", False),
    "53059001": ("surgery", False),
    "50216001": ("surgery", False),
}
OPCS_PROCEDURE: dict[str, tuple[str, bool]] = {
    "K35.8": ("transcatheter-repair", True),
    "K25.1": ("surgery", False),
    "K25.2": ("surgery", False),
    "K25.3": ("surgery", False),
    "K25.4": ("surgery", False),
    "K25.5": ("surgery", True),
    "K25.8": ("surgery", True),
    "K25.9": ("surgery", True),
    "K25": ("surgery", True),
    "K27": ("surgery", True),
    "K34": ("surgery", True),
}
MINIMAL_ACCESS_OPCS = ("Y74",)
MINIMAL_ACCESS_APPROACH = ("minimal-access", "thoracoscopic", "right-mini-thoracotomy")

# Appointment service types that carry no regional code (King's sends only its own codes;
# its ConceptMap leaves clinics and MDTs unmatched). Local code -> pathway-stage it books.
LOCAL_APPOINTMENT_STAGE: dict[tuple[str, str], str] = {
    (f"{BASE}/CodeSystem/local-kings", "71001"): "work-up",
    (f"{BASE}/CodeSystem/local-kings", "71002"): "heart-team-review",
    (f"{BASE}/CodeSystem/local-kings", "40110"): "treatment-scheduled",
    (f"{BASE}/CodeSystem/local-kings", "40111"): "treatment-scheduled",
    (f"{BASE}/CodeSystem/local-kings", "40120"): "treatment-scheduled",
    (f"{BASE}/CodeSystem/local-kings", "40130"): "treatment-scheduled",
    (f"{BASE}/CodeSystem/local-kings", "40140"): "treatment-scheduled",
    (f"{BASE}/CodeSystem/local-kings", "40150"): "treatment-scheduled",
    (f"{BASE}/CodeSystem/local-kings", "40151"): "treatment-scheduled",
}


@dataclass(frozen=True, slots=True)
class Centre:
    slug: str
    name: str
    trust: str
    site: str | None
    domain: str
    """The host of the centre's identifier systems (``https://<domain>/Id/...``)."""

    @property
    def ods(self) -> str:
        """The code a centre is reported by: its site where verified, else its trust."""
        return self.site or self.trust


CENTRES: tuple[Centre, ...] = (
    Centre("st-thomas", "St Thomas' Hospital", "RJ1", "RJ122", "fhir.gstt.nhs.uk"),
    Centre("royal-brompton", "Royal Brompton Hospital", "RJ1", "RJ182", "fhir.rbht.nhs.uk"),
    Centre("harefield", "Harefield Hospital", "RJ1", "RJ181", "fhir.harefield.nhs.uk"),
    Centre("kings", "King's College Hospital", "RJZ", "RJZ01", "fhir.kch.nhs.uk"),
    Centre("st-georges", "St George's Hospital", "RJ7", "RJ701", "fhir.stgeorges.nhs.uk"),
    Centre("barts", "Barts Heart Centre", "R1H", None, "fhir.bartshealth.nhs.uk"),
    Centre("hammersmith", "Hammersmith Hospital", "RYJ", "RYJ03", "fhir.imperial.nhs.uk"),
)
BY_DOMAIN = {c.domain: c for c in CENTRES}
BY_ODS = {c.ods: c for c in CENTRES}


def _org_index() -> dict[str, str]:
    """``Organization/<id>`` -> the centre code it stands for. A trust shared by several
    centres (RJ1) stays a trust code: it cannot say which hospital."""
    out: dict[str, str] = {}
    trusts: dict[str, list[Centre]] = {}
    for c in CENTRES:
        trusts.setdefault(c.trust, []).append(c)
        if c.site:
            out[f"Organization/{organization_id(c.site)}"] = c.ods
    for trust, members in trusts.items():
        ref = f"Organization/{organization_id(trust)}"
        out[ref] = members[0].ods if len(members) == 1 else trust
    return out


ORGANIZATION_CENTRE = _org_index()


def ods_codes(organization: dict[str, Any]) -> tuple[str | None, str | None]:
    """(site code, trust code) of an Organization, from its ODS identifiers."""
    found = {i.get("system"): i.get("value") for i in organization.get("identifier") or []}
    return found.get(ODS_SITE) or None, found.get(ODS_ORG) or None


def centre_of_organization(organization: dict[str, Any]) -> str | None:
    """The centre a stored Organization is, by its ODS identifiers: its site code when that
    is a centre's, else its trust code when only one centre belongs to that trust."""
    site, trust = ods_codes(organization)
    if site in BY_ODS:
        return str(site)
    members = [c for c in CENTRES if c.trust == trust]
    return members[0].ods if len(members) == 1 else None


def learn_organizations(organizations: list[dict[str, Any]]) -> None:
    """Add Organizations written by any client (not only ingest's deterministic ids) to the
    reference -> centre index, so their resources are attributed to a centre too."""
    for organization in organizations:
        centre = centre_of_organization(organization)
        if centre is not None:
            ORGANIZATION_CENTRE.setdefault(f"Organization/{organization['id']}", centre)
