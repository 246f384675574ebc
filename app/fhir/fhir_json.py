"""FHIR JSON in and out, keeping every decimal exactly as the client wrote it.

FHIR requires decimal precision to be kept (``1.50`` is not ``1.5``), but orjson (like every
fast parser) turns decimals into floats. The common case has no decimal whose float would
print differently, so a cheap scan of the raw bytes picks the path: orjson alone, or the
standard library parser with decimals kept as ``DecimalText`` (a float that remembers its
text), written back verbatim through ``orjson.Fragment``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# A fraction ending in 0, an exponent, or more digits than a double holds.
_LOSSY_NUMBER = re.compile(rb"\.\d*0(?![\d])|\d[eE][+-]?\d|\d{16,}")


class DecimalText(float):
    """A JSON decimal that keeps its original text for output."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> DecimalText:
        value = super().__new__(cls, text)
        value.text = text
        return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: bytes) -> Any:
    """Parse JSON; raises orjson.JSONDecodeError (a ValueError) on bad input."""
    if not _LOSSY_NUMBER.search(data):
        return orjson.loads(data)
    value = orjson.loads(data)  # validates strictly (no NaN, no trailing commas)
    del value
    return json.loads(data, parse_float=DecimalText, parse_constant=_reject_constant)


def _default(value: Any) -> Any:
    if isinstance(value, DecimalText):
        return orjson.Fragment(value.text)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_INDENT_2 if pretty else None)
