"""Parsing the FHIR-specific request headers (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from app.errors import InvalidRequest

_ETAG = re.compile(r'^\s*(W/)?"?(\d+)"?\s*$')
RETURN_MODES = ("minimal", "representation", "OperationOutcome")


def parse_etag(value: str | None, header: str = "If-Match") -> int | None:
    """``W/"3"`` (or ``"3"``, or ``3``) to 3; None when absent."""
    if value is None:
        return None
    match = _ETAG.match(value)
    if not match:
        raise InvalidRequest(f'{header} must be a version ETag like W/"3", got {value!r}')
    return int(match.group(2))


def parse_etag_list(value: str | None) -> set[int] | None:
    """If-None-Match may carry several ETags or ``*``; ``*`` is returned as an empty set."""
    if value is None:
        return None
    if value.strip() == "*":
        return set()
    versions = set()
    for part in value.split(","):
        version = parse_etag(part, "If-None-Match")
        if version is not None:
            versions.add(version)
    return versions


@dataclass(frozen=True, slots=True)
class Prefer:
    return_mode: str = "representation"
    strict: bool = False


def parse_prefer(value: str | None) -> Prefer:
    if not value:
        return Prefer()
    return_mode, strict = "representation", False
    for token in value.split(","):
        for part in token.split(";"):
            key, _, val = part.strip().partition("=")
            val = val.strip().strip('"')
            if key == "return" and val in RETURN_MODES:
                return_mode = val
            elif key == "handling":
                strict = val == "strict"
    return Prefer(return_mode, strict)


def parse_criteria(query: str) -> list[tuple[str, str]]:
    """The search part of If-None-Exist (``identifier=a|b``), with or without a leading type."""
    text = query.strip()
    if "?" in text:
        text = text.split("?", 1)[1]
    return parse_qsl(text, keep_blank_values=True)
