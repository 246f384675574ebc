"""The 18-week referral-to-treatment clock of one episode (domain.md section 7).

The clock starts on the day the first referral was received and continues across
inter-provider transfers (status 21: the receiving centre does not restart it). It stops at
the first of: definitive treatment (30; for admitted care the day of admission for the
procedure), a decision not to treat (34: medical therapy only or not suitable), the patient
declining (35), death before treatment (36). After treatment the status is 90.
"""

from __future__ import annotations

from dataclasses import dataclass

RUNNING = "20"
TRANSFER = "21"
TREATED = "30"
NOT_TREATING = "34"
DECLINED = "35"
DIED = "36"
AFTER_TREATMENT = "90"


@dataclass(frozen=True, slots=True)
class Clock:
    status: str | None
    stop: str | None


def clock(
    *,
    voided: bool,
    treated: str | None,
    followed_up: bool,
    no_treatment: tuple[str, str] | None,
    died: str | None,
    transferred_last: bool,
) -> Clock:
    """The clock now. ``treated`` is the stop day for treatment (admission or procedure);
    ``no_treatment`` the (day, code) of a decision not to treat or a refusal; ``died`` the
    day of a death before treatment. A revoked or erroneous referral never started a clock."""
    if voided:
        return Clock(None, None)
    stops: list[tuple[str, str]] = []
    if treated:
        stops.append((treated, AFTER_TREATMENT if followed_up else TREATED))
    if no_treatment:
        stops.append(no_treatment)
    if died:
        stops.append((died, DIED))
    if stops:
        day, status = min(stops)
        return Clock(status, day)
    return Clock(TRANSFER if transferred_last else RUNNING, None)
