"""What each simulated centre is: its ODS codes, feed format, local codes per modality and
referral reason, and its identifier styles. ``docs/centres.md`` describes the same feeds
for people; the local codes are those of ``terminology/codesystems/local-<slug>.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Modalities (what was done), independent of any centre's code list.
MV_REPAIR = "mv-repair"
MV_REPAIR_MIS = "mv-repair-mis"
MV_REPLACE = "mv-replace"
MV_REPLACE_MIS = "mv-replace-mis"
MV_TEER = "mv-teer"
TMVR = "tmvr"
TV_TEER = "tv-teer"
TV_REPAIR = "tv-repair"
TV_TRANSCATHETER = "tv-transcatheter"

# Reason keys (why referred).
R_MR = "mr"
R_MR_SECONDARY = "mr-secondary"
R_MVP = "mvp"
R_TR = "tr"
R_MSMR = "msmr"


@dataclass(frozen=True)
class Centre:
    slug: str
    name: str
    trust: str
    site: str  # the ODS site code, or the trust code where the site is unverified (barts)
    feed: str  # "hl7v2" | "fhir-bundle" | "fhir-api" | "csv"
    prefix: str  # identifier prefix (KCH, BHC, GST, ...)
    procedures: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reasons: dict[str, tuple[str, ...]] = field(default_factory=dict)
    clinics: dict[str, str] = field(default_factory=dict)  # "valve" | "mdt" | "preop"
    unknown: dict[str, str] = field(default_factory=dict)  # kind -> a code not in the system

    @property
    def hub(self) -> bool:
        return "mdt" in self.clinics and self.feed != "csv"


KINGS = Centre(
    "kings",
    "King's College Hospital",
    "RJZ",
    "RJZ01",
    "hl7v2",
    "KCH",
    procedures={
        MV_REPAIR: ("40110",),
        MV_REPAIR_MIS: ("40111",),
        MV_REPLACE: ("40120",),
        MV_TEER: ("40130",),
        TMVR: ("40140",),
        TV_TEER: ("40150",),
        TV_TRANSCATHETER: ("40151",),
    },
    reasons={
        R_MR: ("52010",),
        R_MR_SECONDARY: ("52011",),
        R_MVP: ("52010",),
        R_TR: ("52020",),
        R_MSMR: ("52030",),
    },
    clinics={"valve": "71001", "mdt": "71002"},
    unknown={"procedure": "40199", "reason": "52099", "clinic": "71009"},
)
BARTS = Centre(
    "barts",
    "Barts Heart Centre",
    "R1H",
    "R1H",
    "hl7v2",
    "BHC",
    procedures={
        MV_REPAIR: ("BHC_PROC_011", "BHC_PROC_018"),
        MV_REPAIR_MIS: ("BHC_PROC_012",),
        MV_REPLACE: ("BHC_PROC_013",),
        MV_TEER: ("BHC_PROC_014",),
        TMVR: ("BHC_PROC_015",),
        TV_TEER: ("BHC_PROC_016",),
        TV_TRANSCATHETER: ("BHC_PROC_017",),
        TV_REPAIR: ("BHC_PROC_019",),
    },
    reasons={
        R_MR: ("BHC_REF_001", "BHC_REF_002"),
        R_MR_SECONDARY: ("BHC_REF_001", "BHC_REF_002"),
        R_MVP: ("BHC_REF_003",),
        R_TR: ("BHC_REF_004",),
        R_MSMR: ("BHC_REF_005",),
    },
    clinics={"valve": "BHC_CLN_001", "mdt": "BHC_CLN_002", "preop": "BHC_CLN_003"},
    unknown={"procedure": "BHC_PROC_099", "reason": "BHC_REF_009", "clinic": "BHC_CLN_009"},
)
ST_THOMAS = Centre(
    "st-thomas",
    "St Thomas' Hospital",
    "RJ1",
    "RJ122",
    "fhir-bundle",
    "GST",
    procedures={
        MV_REPAIR: ("MVR-REP",),
        MV_REPAIR_MIS: ("MVR-REP-MIS",),
        MV_REPLACE: ("MVR-REPL", "MVR-REPL-TIS"),
        MV_TEER: ("MV-TEER",),
        TMVR: ("TMVR-TS", "TMVR-TA"),
        TV_TEER: ("TV-TEER",),
        TV_REPAIR: ("TV-REP",),
    },
    reasons={
        R_MR: ("RR-MR-SEV", "RR-MR"),
        R_MR_SECONDARY: ("RR-MR-SEV", "RR-MR"),
        R_MVP: ("RR-MVP",),
        R_TR: ("RR-TR",),
        R_MSMR: ("RR-MS",),
    },
    clinics={"valve": "CL-VALVE", "mdt": "CL-MDT", "preop": "CL-PREOP"},
    unknown={"procedure": "MVR-TAVI", "reason": "RR-AS", "clinic": "CL-AORTIC"},
)
ROYAL_BROMPTON = Centre(
    "royal-brompton",
    "Royal Brompton Hospital",
    "RJ1",
    "RJ182",
    "fhir-bundle",
    "RBH",
    procedures={
        MV_REPAIR: ("RBH-MVREP",),
        MV_REPAIR_MIS: ("RBH-MVREP-MIS",),
        MV_REPLACE: ("RBH-MVR", "RBH-MVR-BIO"),
        MV_TEER: ("RBH-TEER",),
        TMVR: ("RBH-TMVR",),
        TV_TEER: ("RBH-TTEER",),
        TV_REPAIR: ("RBH-TVREP",),
    },
    reasons={
        R_MR: ("RBH-R-SMR",),
        R_MR_SECONDARY: ("RBH-R-FMR",),
        R_MVP: ("RBH-R-SMR",),
        R_TR: ("RBH-R-MVTV",),
        R_MSMR: ("RBH-R-MS",),
    },
    clinics={"valve": "RBH-C-VLV"},
    unknown={"procedure": "RBH-TAVI", "reason": "RBH-R-AS", "clinic": "RBH-C-AOR"},
)
HAMMERSMITH = Centre(
    "hammersmith",
    "Hammersmith Hospital",
    "RYJ",
    "RYJ03",
    "fhir-api",
    "IMP",
    procedures={
        MV_REPAIR: ("IMP-CV-0101",),
        MV_REPLACE: ("IMP-CV-0102", "IMP-CV-0103"),
        MV_TEER: ("IMP-CV-0110",),
        TMVR: ("IMP-CV-0111",),
        TV_TEER: ("IMP-CV-0120",),
    },
    reasons={
        R_MR: ("IMP-CV-R01",),
        R_MR_SECONDARY: ("IMP-CV-R02",),
        R_MVP: ("IMP-CV-R01",),
        R_TR: ("IMP-CV-R03",),
        R_MSMR: ("IMP-CV-R04",),
    },
    clinics={"valve": "IMP-CV-C01", "mdt": "IMP-CV-C02"},
    unknown={"procedure": "IMP-CV-0199", "reason": "IMP-CV-R09", "clinic": "IMP-CV-C09"},
)
ST_GEORGES = Centre(
    "st-georges",
    "St George's Hospital",
    "RJ7",
    "RJ701",
    "csv",
    "SGH",
    reasons={
        R_MR: ("SG.REF.MR.SEVERE", "SG.REF.MR"),
        R_MR_SECONDARY: ("SG.REF.MR.SEVERE", "SG.REF.MR"),
        R_MVP: ("SG.REF.MVP",),
        R_TR: ("SG.REF.TR",),
        R_MSMR: ("SG.REF.MR",),
    },
    clinics={"valve": "SG.CLINIC.VALVE", "mdt": "SG.CLINIC.MDT"},
    unknown={"reason": "SG.REF.AS", "procedure": "SG.MITRAL.TAVI"},
)
HAREFIELD = Centre(
    "harefield",
    "Harefield Hospital",
    "RJ1",
    "RJ181",
    "csv",
    "HF",
    procedures={
        MV_REPAIR: ("HF/MV/REPAIR",),
        MV_REPAIR_MIS: ("HF/MV/REPAIR/MIS",),
        MV_REPLACE: ("HF/MV/REPLACE",),
        MV_REPLACE_MIS: ("HF/MV/REPLACE/MIS",),
        MV_TEER: ("HF/MV/TEER",),
        TMVR: ("HF/MV/TMVR/TA",),
        TV_TRANSCATHETER: ("HF/TV/ANNULO/TC",),
    },
    unknown={"procedure": "HF/AV/TAVI"},
)

CENTRES: dict[str, Centre] = {
    c.slug: c for c in (KINGS, BARTS, ST_THOMAS, ROYAL_BROMPTON, HAMMERSMITH, ST_GEORGES, HAREFIELD)
}
HUBS = ("st-thomas", "kings", "barts", "hammersmith")
# Where a non-hub centre's patients are discussed (weights).
MDT_HUB_FOR: dict[str, tuple[tuple[str, float], ...]] = {
    "st-georges": (("kings", 0.5), ("st-thomas", 0.5)),
    "royal-brompton": (("st-thomas", 1.0),),
}
# Who refers (home centre) and how often; Harefield has no referral feed.
HOME_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("st-thomas", 0.20),
    ("kings", 0.18),
    ("st-georges", 0.18),
    ("barts", 0.17),
    ("royal-brompton", 0.15),
    ("hammersmith", 0.12),
)
# Referring organisations outside the network: GP practice code prefixes and DGH trusts.
GP_PREFIXES = ("G85", "H85", "F84", "E85", "G83", "H83")
DGH_TRUSTS = ("RAX", "RJ6", "RVR", "RJ2", "RQX", "RQM", "R1K", "RAS")
GP_PRACTICES = (
    "Lambeth Walk Group Practice",
    "Streatham Common Practice",
    "Tooting South Medical Centre",
    "Bow Health Centre",
    "Brook Green Medical Centre",
    "Camberwell Green Surgery",
    "Balham Park Surgery",
    "Mile End Road Surgery",
)
CONSULTANTS = (
    ("PATEL", "Nina", "Dr"),
    ("OKAFOR", "Chidi", "Mr"),
    ("HUGHES", "Rachel", "Ms"),
    ("RAHMAN", "Anwar", "Dr"),
    ("BELL", "Simon", "Mr"),
    ("NOWAK", "Ewa", "Dr"),
)


def treating_centres(modality: str) -> list[str]:
    """Centres with a procedure code for ``modality`` (so they can report doing it)."""
    return [c.slug for c in CENTRES.values() if modality in c.procedures]


# Displays of every local code, as the centres send them (our CodeSystems hold the same).
DISPLAYS: dict[str, str] = {
    "40110": "MV repair - conventional",
    "40111": "MV repair - minimally invasive",
    "40120": "MV replacement",
    "40130": "MitraClip",
    "40140": "TMVR",
    "40150": "Tricuspid clip (TEER)",
    "40151": "Tricuspid annuloplasty - transcatheter",
    "52010": "MR - severe",
    "52011": "MR - functional",
    "52020": "TR",
    "52030": "MS + MR",
    "71001": "Valve clinic",
    "71002": "Structural heart MDT",
    "BHC_PROC_011": "MITRAL VALVE REPAIR",
    "BHC_PROC_012": "MITRAL VALVE REPAIR MINIMAL ACCESS",
    "BHC_PROC_013": "MITRAL VALVE REPLACEMENT",
    "BHC_PROC_014": "MITRACLIP / PASCAL MITRAL TEER",
    "BHC_PROC_015": "TRANSCATHETER MITRAL VALVE REPLACEMENT",
    "BHC_PROC_016": "TRICUSPID TEER",
    "BHC_PROC_017": "TRANSCATHETER TRICUSPID REPAIR",
    "BHC_PROC_018": "MITRAL ANNULOPLASTY",
    "BHC_PROC_019": "TRICUSPID VALVE REPAIR",
    "BHC_REF_001": "SEVERE MR",
    "BHC_REF_002": "MR FOR ASSESSMENT",
    "BHC_REF_003": "MITRAL VALVE PROLAPSE",
    "BHC_REF_004": "TRICUSPID REGURGITATION",
    "BHC_REF_005": "MITRAL STENOSIS",
    "BHC_CLN_001": "VALVE CLINIC",
    "BHC_CLN_002": "HEART TEAM MDT",
    "BHC_CLN_003": "PRE-OP ASSESSMENT",
    "MVR-REP": "Mitral valve repair (sternotomy)",
    "MVR-REP-MIS": "Mitral valve repair, minimal access (right mini-thoracotomy)",
    "MVR-REPL": "Mitral valve replacement",
    "MVR-REPL-TIS": "Mitral valve replacement, tissue valve",
    "MV-TEER": "Mitral TEER (MitraClip / PASCAL)",
    "TMVR-TS": "TMVR, transseptal",
    "TMVR-TA": "TMVR, transapical",
    "TV-TEER": "Tricuspid TEER",
    "TV-REP": "Tricuspid valve repair (surgical)",
    "RR-MR-SEV": "Severe mitral regurgitation",
    "RR-MR": "Mitral regurgitation for assessment",
    "RR-MVP": "Mitral valve prolapse",
    "RR-TR": "Tricuspid regurgitation",
    "RR-MS": "Mitral stenosis",
    "CL-VALVE": "Heart Valve Clinic",
    "CL-MDT": "Heart Team MDT",
    "CL-PREOP": "Cardiac Surgery Pre-assessment",
    "RBH-MVREP": "MV repair",
    "RBH-MVREP-MIS": "MV repair, minimal access",
    "RBH-MVR": "MV replacement",
    "RBH-MVR-BIO": "MV replacement, bioprosthetic",
    "RBH-TEER": "Mitral TEER",
    "RT3-MCLIP": "MitraClip (pre-merger RT3 list)",
    "RBH-TMVR": "Transcatheter MV implantation",
    "RBH-TTEER": "Tricuspid TEER",
    "RBH-TVREP": "TV repair",
    "RBH-R-SMR": "Severe MR",
    "RBH-R-FMR": "Functional MR",
    "RBH-R-MVTV": "MR and TR",
    "RBH-R-MS": "Mitral stenosis",
    "RBH-C-VLV": "Valve clinic",
    "RBH-C-HTM": "Heart team meeting",
    "HF/MV/REPAIR": "Mitral valve repair - median sternotomy",
    "HF/MV/REPAIR/MIS": "Mitral valve repair - minimally invasive",
    "HF/MV/REPLACE": "Mitral valve replacement - median sternotomy",
    "HF/MV/REPLACE/MIS": "Mitral valve replacement - minimally invasive",
    "HF/MV/TEER": "Mitral transcatheter edge-to-edge repair",
    "HF/MV/TMVR/TA": "Transapical TMVR",
    "HF/TV/ANNULO/TC": "Transcatheter tricuspid annuloplasty",
    "HF/REF/MR": "Mitral regurgitation",
    "HF/REF/MVP": "Mitral valve prolapse / flail leaflet",
    "HF/REF/TR": "Tricuspid regurgitation",
    "HF/REF/MSMR": "Mixed mitral valve disease (MS + MR)",
    "HF/CLN/VALVE": "Valve clinic",
    "HF/CLN/MDT": "Heart valve MDT",
    "HF/CLN/PREADM": "Pre-admission clinic",
    "IMP-CV-0101": "Mitral valve repair",
    "IMP-CV-0102": "Mitral valve replacement",
    "IMP-CV-0103": "Mitral valve replacement (biological)",
    "IMP-CV-0110": "MitraClip",
    "IMP-CV-0111": "TMVR (transseptal)",
    "IMP-CV-0120": "Tricuspid TEER",
    "IMP-CV-R01": "Severe mitral regurgitation",
    "IMP-CV-R02": "Secondary (functional) mitral regurgitation",
    "IMP-CV-R03": "Tricuspid regurgitation",
    "IMP-CV-R04": "Mitral stenosis",
    "IMP-CV-C01": "Valve clinic",
    "IMP-CV-C02": "Heart team MDT",
    "SG.MITRAL.REPAIR": "Mitral repair",
    "SG.MITRAL.REPAIR.MIS": "Mitral repair (minimal access)",
    "SG.MITRAL.REPLACE": "Mitral replacement",
    "SG.MITRAL.REPLACE.MIS": "Mitral replacement (minimal access)",
    "SG.MITRAL.ANNULO": "Mitral annuloplasty (surgical)",
    "SG.MITRAL.CLIP": "Mitral clip (TEER)",
    "SG.TRICUSPID.REPAIR": "Tricuspid repair (surgical)",
    "SG.REF.MR": "Referral: mitral regurgitation",
    "SG.REF.MR.SEVERE": "Referral: severe mitral regurgitation",
    "SG.REF.MVP": "Referral: mitral valve prolapse",
    "SG.REF.TR": "Referral: tricuspid regurgitation",
    "SG.CLINIC.VALVE": "Valve clinic",
    "SG.CLINIC.MDT": "Heart team meeting",
    "SG.CLINIC.PREOP": "Pre-operative assessment clinic",
}
