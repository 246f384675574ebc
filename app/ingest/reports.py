"""What an ingest run reports back: per unit, what was created, updated, unchanged, or why it
was quarantined (an HTTP receipt, the CLI summary, the MLLP ACK all come from these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from app.errors import Issue, operation_outcome_bytes
from app.storage import ingest_log


@dataclass
class UnitReport:
    unit_id: str
    position: str | None
    status: str
    """``mapped`` or ``quarantined`` (this time or, for a repeat, before)."""
    repeat: bool = False
    """The same bytes were received before: nothing was done again."""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"unit": self.unit_id, "position": self.position}
        out["status"] = self.status
        if self.repeat:
            out["repeat"] = True
        for name in ("created", "updated", "unchanged"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.issues:
            out["outcome"] = orjson.loads(operation_outcome_bytes(self.issues))
        return out


@dataclass
class Receipt:
    centre: str
    units: list[UnitReport] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for u in self.units if u.status == status)

    def resources(self, what: str) -> int:
        return sum(len(getattr(u, what)) for u in self.units)

    def to_json(self) -> dict[str, Any]:
        return {
            "centre": self.centre,
            "units": len(self.units),
            "mapped": self.count(ingest_log.MAPPED),
            "quarantined": self.count(ingest_log.QUARANTINED),
            "repeats": sum(1 for u in self.units if u.repeat),
            "resources": {w: self.resources(w) for w in ("created", "updated", "unchanged")},
            "detail": [u.to_json() for u in self.units],
        }
