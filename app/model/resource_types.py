"""The R4 resource types this server accepts: every concrete type in FHIR R4 4.0.1."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import orjson

_DEFINITIONS = Path(__file__).parent / "definitions" / "resource-types.json"
ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@lru_cache(maxsize=1)
def resource_types() -> frozenset[str]:
    data = orjson.loads(_DEFINITIONS.read_bytes())
    return frozenset(data["resourceTypes"])


def is_resource_type(name: str) -> bool:
    return name in resource_types()


def is_valid_id(value: str) -> bool:
    return bool(ID_PATTERN.match(value))
