"""What each pathway metric means, as data the Measure resources are built from.

Kept apart from ``measures.py`` so the definitions read as a table a clinician can review.
"""

from __future__ import annotations

from typing import Any, Final

from app.pathway.metrics_core import RTT_DAYS

_TREATED = "Episodes whose first definitive procedure (RTT clock stop) falls in the period"
_WAIT = (
    "Waits in days from {0} to {1}, for episodes whose {1} falls in the period, by the {2} "
    "centre. Negative waits are excluded as data errors. Median and 90th centile by nearest "
    "rank (PostgreSQL percentile_disc)."
)

DEFINITIONS: Final[dict[str, dict[str, Any]]] = {
    "referrals": {
        "title": "Mitral pathway referrals received",
        "scoring": "cohort",
        "type": "structure",
        "populations": {"initial-population": "Episodes whose referral was received in the period"},
    },
    "wait-referral-mdt": {
        "title": "Wait from referral to heart-team (MDT) discussion",
        "scoring": "continuous-variable",
        "type": "process",
        "improvement": "decrease",
        "rule": _WAIT.format("referral received", "first MDT discussion", "referral"),
    },
    "wait-mdt-treatment": {
        "title": "Wait from heart-team (MDT) discussion to treatment",
        "scoring": "continuous-variable",
        "type": "process",
        "improvement": "decrease",
        "rule": _WAIT.format("first MDT discussion", "treatment", "treating"),
    },
    "wait-referral-treatment": {
        "title": "Wait from referral to treatment (RTT)",
        "scoring": "continuous-variable",
        "type": "process",
        "improvement": "decrease",
        "rule": _WAIT.format("referral received", "treatment", "treating"),
    },
    "rtt-18-weeks": {
        "title": "Treated within 18 weeks of referral (completed pathways)",
        "scoring": "proportion",
        "type": "process",
        "improvement": "increase",
        "populations": {
            "denominator": _TREATED,
            "numerator": f"Of those, referral to treatment <= {RTT_DAYS} days (18 weeks)",
        },
    },
    "rtt-incomplete": {
        "title": "Incomplete pathways waiting 18 weeks or less",
        "scoring": "proportion",
        "type": "process",
        "improvement": "increase",
        "populations": {
            "denominator": "Episodes referred by the period end whose RTT clock had not stopped",
            "numerator": f"Of those, waiting <= {RTT_DAYS} days on the period's last day",
        },
    },
    "treatment-volumes": {
        "title": "Mitral procedures by modality and year, and rate per 100,000 population",
        "scoring": "ratio",
        "type": "structure",
        "populations": {
            "numerator": _TREATED,
            "denominator": "Resident population (pathway/population.json, source stated there)",
        },
    },
    "repair-rate": {
        "title": "Surgical repair rather than replacement for primary mitral regurgitation",
        "scoring": "proportion",
        "type": "process",
        "improvement": "increase",
        "populations": {
            "denominator": _TREATED + ": surgical, primary MR, repair or replacement recorded",
            "numerator": "Of those, repairs",
        },
    },
    "minimal-access-share": {
        "title": "Mitral surgery done by minimal access",
        "scoring": "proportion",
        "type": "process",
        "populations": {
            "denominator": _TREATED + ": open or minimal access surgery",
            "numerator": "Of those, minimal access surgery",
        },
    },
    "mdt-before-treatment": {
        "title": "Patients discussed by the heart team before treatment",
        "scoring": "proportion",
        "type": "process",
        "improvement": "increase",
        "populations": {
            "denominator": _TREATED,
            "numerator": "Of those, first MDT discussion on or before the procedure day",
        },
    },
    "minimum-volumes": {
        "title": "Centre and operator annual volumes against published minimum standards",
        "scoring": "cohort",
        "type": "structure",
        "populations": {
            "initial-population": _TREATED + ", counted per centre and operator per year",
        },
    },
    "capability-matrix": {
        "title": "What each centre offers (MV-Service) against what it did",
        "scoring": "cohort",
        "type": "structure",
        "populations": {"initial-population": _TREATED + ", per treating centre and modality"},
    },
}
