"""The $expand answer: a cached expansion filtered, paged and written as a FHIR ValueSet."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from app.errors import InvalidRequest
from app.terminology.expansion import Entry, Expansion
from app.terminology.service import Designation, ExpandRequest

_WORD = re.compile(r"\w+")
_DROPPED = frozenset({"compose", "expansion", "text"})


def check_paging(request: ExpandRequest) -> None:
    if request.count is not None and request.count < 0:
        raise InvalidRequest(f"count must be 0 or more, not {request.count}", ("count",))
    if request.offset < 0:
        raise InvalidRequest(f"offset must be 0 or more, not {request.offset}", ("offset",))


def _matcher(text: str) -> Any:
    """Every whitespace-separated word must start a display word, or be the code itself."""
    tokens = [(t.casefold(), _WORD.findall(t.casefold())) for t in text.split()]

    def matches(entry: Entry) -> bool:
        code = entry.code.casefold()
        for whole, parts in tokens:
            if whole == code:
                continue
            if not parts or not all(any(w.startswith(p) for w in entry.words) for p in parts):
                return False
        return True

    return matches


def _designation(d: Designation) -> dict[str, Any]:
    out: dict[str, Any] = {"value": d.value}
    if d.language:
        out["language"] = d.language
    if d.use:
        use = {"system": d.use.system, "code": d.use.code}
        if d.use.display:
            use["display"] = d.use.display
        out["use"] = use
    return out


def _contains(entry: Entry, designations: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"system": entry.system}
    if entry.version:
        item["version"] = entry.version
    if entry.abstract:
        item["abstract"] = True
    if entry.inactive:
        item["inactive"] = True
    item["code"] = entry.code
    if entry.display:
        item["display"] = entry.display
    if designations and entry.designations:
        item["designation"] = [_designation(d) for d in entry.designations]
    return item


def _parameters(request: ExpandRequest, expansion: Expansion) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.filter:
        out.append({"name": "filter", "valueString": request.filter})
    if request.count is not None:
        out.append({"name": "count", "valueInteger": request.count})
    out.append({"name": "offset", "valueInteger": request.offset})
    if request.active_only:
        out.append({"name": "activeOnly", "valueBoolean": True})
    if request.include_designations:
        out.append({"name": "includeDesignations", "valueBoolean": True})
    out.extend({"name": "used-codesystem", "valueUri": url} for url in expansion.used)
    return out


def render(
    resource: dict[str, Any], expansion: Expansion, request: ExpandRequest
) -> dict[str, Any]:
    check_paging(request)
    entries: tuple[Entry, ...] | list[Entry] = expansion.entries
    if request.active_only:
        entries = [e for e in entries if not e.inactive]
    if request.filter and request.filter.strip():
        matches = _matcher(request.filter)
        entries = [e for e in entries if matches(e)]
    end = None if request.count is None else request.offset + request.count
    page = entries[request.offset : end]
    out = {k: v for k, v in resource.items() if k not in _DROPPED}
    out["resourceType"] = "ValueSet"
    body: dict[str, Any] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "total": len(entries),
        "offset": request.offset,
        "parameter": _parameters(request, expansion),
    }
    if page:
        body["contains"] = [_contains(e, request.include_designations) for e in page]
    out["expansion"] = body
    return out
