"""What the MLLP listener does with each message: log it (committed) first, then map it, and
answer with the ACK code the outcome deserves.

AA: mapped. AE: received and kept, but quarantined (a mapping or validation problem; replay
after a fix). AR: rejected as not processable at all (unreadable, wrong version, a message
type this centre's mapping does not take); still kept in the quarantine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.ingest.pipeline import Ingestor
from app.storage import ingest_log

REJECT_CODES = ("structure", "not-supported")


def mllp_handler(ingestor: Ingestor, centre: str) -> Callable[[bytes], Awaitable[tuple[str, str]]]:
    async def handle(raw: bytes) -> tuple[str, str]:
        pieces = await ingestor.store_message(centre, raw, transport="mllp")
        problems = {p.unit.unit_id: p.problem for p in pieces if p.problem is not None}
        reports = await ingestor.process([p.unit.unit_id for p in pieces], known_problems=problems)
        if not reports:
            # Already logged before: answer as it was answered then.
            return "AA", "already received"
        worst = next((r for r in reports if r.status == ingest_log.QUARANTINED), None)
        if worst is None:
            return "AA", "mapped"
        text = "; ".join(i.diagnostics for i in worst.issues if i.severity in ("error", "fatal"))
        code = "AR" if any(i.code in REJECT_CODES for i in worst.issues) else "AE"
        return code, text[:400] or "quarantined"

    return handle
