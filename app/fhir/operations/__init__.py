"""FHIR operations ($name URLs): reading their inputs, running them, rendering Parameters."""

import json
from pathlib import Path


def operation_definitions() -> list[dict[str, object]]:
    """Our own OperationDefinitions (``definitions/``), published at start-up so the
    CapabilityStatement's ``definition`` urls resolve on this server."""
    folder = Path(__file__).resolve().parent / "definitions"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
