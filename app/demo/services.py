"""The seven centres' mitral valve services (MV-Service), for the demo's capability matrix.

Each simulated centre offers what the synthetic feeds let it do (``app.ingest.synth.centres``:
the modalities it has procedure codes for), so the demo's matrix shows offered against done
on the same footing. This is illustrative, not a statement of any hospital's service: the
network publishes the real list, and a deployment loads it like any other HealthcareService
(PUT /fhir/HealthcareService/{id}).
"""

from __future__ import annotations

from typing import Any

from app.ingest.synth import centres as synth
from app.pathway.codes import APPROACH, ODS_ORG, ODS_SITE, SNOMED

PROFILE = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/MV-Service"
_APPROACHES = {
    "open-surgical": ("Open surgical", {synth.MV_REPAIR, synth.MV_REPLACE}),
    "minimal-access": ("Minimal access surgery", {synth.MV_REPAIR_MIS, synth.MV_REPLACE_MIS}),
    "transcatheter": ("Transcatheter", {synth.MV_TEER, synth.TMVR}),
}
_TYPES = {
    synth.MV_REPLACE: ("53059001", "Replacement of mitral valve"),
    synth.MV_TEER: (
        "865051000000105",
        "Fluoroscopy guided percutaneous transluminal repair of mitral valve leaflet using "
        "transoesophageal echocardiography",
    ),
    synth.TMVR: ("720583008", "Transcatheter mitral valve replacement"),
}
DEMO_ORGANIZATIONS = {
    "st-thomas": "rj1-st-thomas",
    "royal-brompton": "rj1-royal-brompton",
    "harefield": "rj1-harefield",
    "kings": "rjz-kings",
    "st-georges": "rj7-st-georges",
    "barts": "r1h-barts",
    "hammersmith": "ryj-hammersmith",
}
"""Centre slug -> the demo Bundle's Organization id."""


def _service(centre: synth.Centre) -> dict[str, Any]:
    does = set(centre.procedures)
    system = ODS_ORG if centre.site == centre.trust else ODS_SITE
    return {
        "resourceType": "HealthcareService",
        "id": f"mv-service-{centre.slug}",
        "meta": {"profile": [PROFILE]},
        "active": True,
        "providedBy": {
            "reference": f"Organization/{DEMO_ORGANIZATIONS[centre.slug]}",
            "identifier": {"system": system, "value": centre.site},
            "display": centre.name,
        },
        "type": [
            {"coding": [{"system": SNOMED, "code": code, "display": display}]}
            for modality, (code, display) in _TYPES.items()
            if modality in does
        ],
        "name": f"{centre.name} mitral and tricuspid valve service",
        "characteristic": [
            {"coding": [{"system": APPROACH, "code": code, "display": display}]}
            for code, (display, modalities) in _APPROACHES.items()
            if does & modalities
        ],
    }


def centre_services() -> list[dict[str, Any]]:
    """Centres that treat; a referring centre (St George's in the feeds) has no MV-Service,
    which requires at least one procedure type and approach."""
    return [_service(c) for c in synth.CENTRES.values() if c.procedures]
