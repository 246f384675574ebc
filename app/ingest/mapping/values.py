"""Turning source text into FHIR primitive values (``as:`` in a mapping spec).

Dates are where feeds go wrong (see docs/mapping.md): HL7 v2 and CSV times usually carry no
offset, so the centre's configured zone supplies it, correct on both sides of a DST change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from app.ingest.hl7v2.timestamps import hl7_date, hl7_datetime
from app.model.nhs_number import is_valid

AS_TYPES = (
    "string",
    "code",
    "date",
    "dateTime",
    "instant",
    "integer",
    "decimal",
    "boolean",
    "nhs-number",
)
_FHIR_DATETIME = re.compile(
    r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_TRUE = {"true", "y", "yes", "1", "t"}
_FALSE = {"false", "n", "no", "0", "f"}


@lru_cache(maxsize=65536)
def nhs_number(text: str) -> str:
    """The 10-digit NHS number with a valid modulus 11 check digit, spaces removed (cached:
    a patient's number is read for its key and again for its identifier, in every message)."""
    digits = text.replace(" ", "").replace("-", "")
    if len(digits) != 10 or not digits.isdigit():
        raise ValueError(f"{text!r} is not an NHS number: it needs 10 digits")
    if not is_valid(digits):
        raise ValueError(f"{text!r} is not a valid NHS number: the check digit is wrong")
    return digits


def _with_zone(moment: datetime, zone: ZoneInfo) -> str:
    # +00:00, not Z: the time is London's (in winter), not a UTC instant the centre sent.
    return moment.replace(tzinfo=zone, fold=0).isoformat()


def _strptime(text: str, formats: Sequence[str]) -> datetime:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"{text!r} matches none of the formats {', '.join(formats)}")


@lru_cache(maxsize=16384)
def _fhir_datetime(text: str, zone: ZoneInfo) -> str:
    if not _FHIR_DATETIME.match(text):
        raise ValueError(f"{text!r} is not a FHIR dateTime")
    if "T" in text and not (text.endswith("Z") or re.search(r"[+-]\d{2}:\d{2}$", text)):
        return _with_zone(datetime.fromisoformat(text), zone)
    return text


def _number(value: str, as_type: str) -> Any:
    try:
        return int(value) if as_type == "integer" else float(Decimal(value))
    except (ValueError, InvalidOperation):
        what = "a whole number" if as_type == "integer" else "a decimal number"
        raise ValueError(f"{value!r} is not {what}") from None


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a yes/no value")


def _date(value: str, kind: str, date_formats: Sequence[str]) -> str:
    if kind == "hl7v2":
        return hl7_date(value)
    if kind == "csv" and date_formats:
        return _csv_date(value, tuple(date_formats))
    if not re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", value):
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")
    return value


def _datetime(
    value: str,
    kind: str,
    zone: ZoneInfo,
    date_formats: Sequence[str],
    datetime_formats: Sequence[str],
) -> str:
    if kind == "hl7v2":
        return hl7_datetime(value, zone)
    if kind == "csv" and (datetime_formats or date_formats):
        return _csv_datetime(value, zone, tuple(date_formats), tuple(datetime_formats))
    return _fhir_datetime(value, zone)


# Parsing is cached per text and formats: strptime is slow, and an extract repeats its dates
# (a patient's birth date on every row, a clinic's session times).


@lru_cache(maxsize=16384)
def _csv_date(value: str, date_formats: tuple[str, ...]) -> str:
    return _strptime(value, date_formats).date().isoformat()


@lru_cache(maxsize=16384)
def _csv_datetime(
    value: str, zone: ZoneInfo, date_formats: tuple[str, ...], datetime_formats: tuple[str, ...]
) -> str:
    try:
        return _with_zone(_strptime(value, datetime_formats), zone)
    except ValueError:
        if not date_formats:
            raise
        return _strptime(value, date_formats).date().isoformat()


def _text(value: str) -> str:
    return value


def _integer(value: str) -> Any:
    return _number(value, "integer")


def _decimal(value: str) -> Any:
    return _number(value, "decimal")


def text_converter(as_type: Any) -> Callable[[str], Any] | None:
    """``convert`` for a type that needs the text alone (not the source kind, zone or
    formats), for a compiled read to call directly; None for the others."""
    if as_type == "string":
        return _text
    if as_type == "code":
        return str.strip
    if as_type == "nhs-number":
        return nhs_number
    if as_type == "integer":
        return _integer
    if as_type == "decimal":
        return _decimal
    if as_type == "boolean":
        return _boolean
    return None


def convert(
    value: str,
    as_type: str,
    *,
    kind: str,
    zone: ZoneInfo,
    date_formats: Sequence[str],
    datetime_formats: Sequence[str],
) -> Any:
    """``value`` as the FHIR primitive ``as_type``; ``ValueError`` says what is wrong."""
    if as_type == "string":
        return value
    if as_type == "code":
        return value.strip()
    if as_type == "nhs-number":
        return nhs_number(value)
    if as_type in ("integer", "decimal"):
        return _number(value, as_type)
    if as_type == "boolean":
        return _boolean(value)
    if as_type == "date":
        return _date(value, kind, date_formats)
    if as_type in ("dateTime", "instant"):
        out = _datetime(value, kind, zone, date_formats, datetime_formats)
        if as_type == "instant" and "T" not in out:
            raise ValueError(f"{value!r} is not an instant: it needs a time of day")
        return out
    raise ValueError(f"unknown type {as_type!r}")
