"""A hand-built cohort with hand-computed metrics (2025), and a random cohort for invariants.

Centres by ODS site code (domain.md section 3): RJ122 St Thomas', RJZ01 King's, RJ701
St George's, RJ181 Harefield (GSTT since 2021, legacy trust RT3), R1H Barts (trust code: no
verified site code), RYJ03 Hammersmith.

Days per episode (referral->MDT / MDT->treatment / referral->treatment):

====  ======  =====  ==========  ===========================  ===========================
id    ref     r->m   m->t        r->t   treated by            notes
====  ======  =====  ==========  ===========================  ===========================
E1    RJ122   14     42          56     RJ122 surgery repair  primary, s1, F, 64, SE1
E2    RJ122   21     98          119    RJ122 MAS repair      primary, s1, M, 70, SE5
E3    RJZ01   28     126         154    RJZ01 surgery replace primary, k1, F, 79, SE5
E4    RJ701   7      35          42     RJ701 TEER            secondary, g1, M, 86, SW17
E5    RJ181   28     98          126    RJ181 surgery repair  primary, h1, F, 74, UB9
E6    R1H     28     35          63     R1H TMVR              primary, b1, M, 77, E1
E7    RYJ03   28     63          91     RJ122 surgery repair  primary, s1, F, 55, SE1
E8    RJZ01   -      -           42     RJZ01 surgery replace mixed, k1, M, 72, SE22
E9    RJ122   30     open: 213 days at 2025-12-31             F, 85, SE1
E10   RJ701   -      open: 91 days at 2025-12-31              M, 60, area unknown
E11   RJZ01   19     declined 2025-04-10 (clock stopped)      F, 63, SE5
E12   RJ122   (2024) 49          80     RJ122 surgery repair  referred 2024, primary, s1
E13   entered-in-error: ignored everywhere
E14   RJ701   49     -14 (MDT after treatment)  35  RJ701 TEER  secondary, g1, F, 80
====  ======  =====  ==========  ===========================  ===========================
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from app.pathway.model import MODALITIES, Episode

YEAR_2025 = (date(2025, 1, 1), date(2025, 12, 31))


def episode(name: str, **facts: Any) -> Episode:
    base: dict[str, Any] = {
        "patient_id": f"p-{name}",
        "careplan_id": f"cp-{name}",
        "number": 1,
        "stage": "treated" if facts.get("treated") else "referred",
        "status": "active",
    }
    return Episode(**(base | facts))


def _treated(  # noqa: PLR0917 - positional columns keep the cohort table readable
    name: str,
    referred: str,
    centre: str,
    mdt: str | None,
    treated: str,
    treating: str,
    modality: str,
    **facts: Any,
) -> Episode:
    return episode(
        name,
        referred=referred,
        referral_centre=centre,
        mdt=mdt,
        mdt_centre=centre if mdt else None,
        decision=f"decision-{modality}",
        treated=treated,
        treating_centre=treating,
        modality=modality,
        rtt_status="30",
        rtt_stop=treated,
        **facts,
    )


def cohort() -> list[Episode]:
    return [
        _treated("E1", "2025-01-06", "RJ122", "2025-01-20", "2025-03-03", "RJ122", "surgery",
                 repair=True, aetiology="primary", operator="Practitioner/s1", sex="female",
                 birth_date="1960-05-01", area="SE1"),
        _treated("E2", "2025-02-03", "RJ122", "2025-02-24", "2025-06-02", "RJ122",
                 "minimal-access-surgery", repair=True, aetiology="primary",
                 operator="Practitioner/s1", sex="male", birth_date="1955-02-03", area="SE5"),
        _treated("E3", "2025-01-13", "RJZ01", "2025-02-10", "2025-06-16", "RJZ01", "surgery",
                 repair=False, aetiology="primary", operator="Practitioner/k1", sex="female",
                 birth_date="1945-01-14", area="SE5"),
        _treated("E4", "2025-03-03", "RJ701", "2025-03-10", "2025-04-14", "RJ701",
                 "transcatheter-repair", repair=True, aetiology="secondary",
                 operator="Practitioner/g1", sex="male", birth_date="1938-06-01", area="SW17"),
        _treated("E5", "2025-04-01", "RJ181", "2025-04-29", "2025-08-05", "RJ181", "surgery",
                 repair=True, aetiology="primary", operator="Practitioner/h1", sex="female",
                 birth_date="1950-10-10", area="UB9"),
        _treated("E6", "2025-05-05", "R1H", "2025-06-02", "2025-07-07", "R1H",
                 "transcatheter-replacement", repair=False, aetiology="primary",
                 operator="Practitioner/b1", sex="male", birth_date="1948-01-01", area="E1"),
        _treated("E7", "2025-06-02", "RYJ03", "2025-06-30", "2025-09-01", "RJ122", "surgery",
                 repair=True, aetiology="primary", operator="Practitioner/s1", sex="female",
                 birth_date="1970-01-01", area="SE1"),
        _treated("E8", "2025-07-01", "RJZ01", None, "2025-08-12", "RJZ01", "surgery",
                 repair=False, aetiology="mixed", operator="Practitioner/k1", sex="male",
                 birth_date="1952-07-02", area="SE22"),
        episode("E9", referred="2025-06-01", referral_centre="RJ122", mdt="2025-07-01",
                mdt_centre="RJ122", rtt_status="20", sex="female", birth_date="1940-01-01",
                area="SE1"),
        episode("E10", referred="2025-10-01", referral_centre="RJ701", rtt_status="20",
                sex="male", birth_date="1965-03-03"),
        episode("E11", referred="2025-03-01", referral_centre="RJZ01", mdt="2025-03-20",
                mdt_centre="RJZ01", decision="decision-declined", status="completed",
                ended="2025-04-10", exit="declined", rtt_status="35", rtt_stop="2025-04-10",
                sex="female", birth_date="1962-01-01", area="SE5"),
        _treated("E12", "2024-11-01", "RJ122", "2024-12-02", "2025-01-20", "RJ122", "surgery",
                 repair=True, aetiology="primary", operator="Practitioner/s1", sex="male",
                 birth_date="1958-01-01", area="SE1"),
        _treated("E13", "2025-05-01", "RJ122", "2025-05-02", "2025-05-10", "RJ122", "surgery",
                 repair=True, aetiology="primary", status="entered-in-error", sex="male",
                 birth_date="1950-01-01", area="SE1"),
        _treated("E14", "2025-09-01", "RJ701", "2025-10-20", "2025-10-06", "RJ701",
                 "transcatheter-repair", repair=True, aetiology="secondary",
                 operator="Practitioner/g1", sex="female", birth_date="1944-09-02",
                 area="SW17"),
    ]  # fmt: skip


CENTRES = ("RJ122", "RJ182", "RJ181", "RJZ01", "RJ701", "R1H", "RYJ03")
AREAS = ("SE1", "SE5", "SW17", "SE22", "UB9", "E1", "W12", None)


def _day(start: date, offset: int) -> str:
    return (start + timedelta(days=offset)).isoformat()


def random_cohort(size: int, seed: int = 7) -> list[Episode]:
    """Episodes with every kind of gap: open, untreated, no MDT, negative waits, unknowns."""
    rng = random.Random(seed)
    origin = date(2023, 1, 1)
    out = []
    for i in range(size):
        referred = origin + timedelta(days=rng.randrange(0, 1000))
        mdt = _day(referred, rng.randrange(-5, 90)) if rng.random() < 0.85 else None
        treated = _day(referred, rng.randrange(10, 300)) if rng.random() < 0.7 else None
        modality = rng.choice(MODALITIES) if treated else None
        out.append(
            Episode(
                patient_id=f"p{i}",
                careplan_id=f"cp{i}",
                number=1,
                stage="treated" if treated else "referred",
                status=rng.choice(("active", "completed", "active", "entered-in-error")),
                referred=referred.isoformat(),
                referral_centre=rng.choice(CENTRES),
                mdt=mdt,
                treated=treated,
                treating_centre=rng.choice(CENTRES) if treated else None,
                modality=modality,
                repair=rng.choice((True, False, None)) if treated else None,
                aetiology=rng.choice(("primary", "secondary", "mixed", None)),
                operator=f"Practitioner/o{rng.randrange(40)}" if treated else None,
                ended=_day(referred, rng.randrange(5, 200)) if rng.random() < 0.1 else None,
                sex=rng.choice(("female", "male", None)),
                birth_date=f"{rng.randrange(1925, 1990)}-{rng.randrange(1, 13):02d}-15",
                area=rng.choice(AREAS),
            )
        )
    return out
