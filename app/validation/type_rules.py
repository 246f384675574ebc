"""Checks tied to one data type that the element table cannot express.

The HL7 Java validator applies a few type-specific checks on top of the StructureDefinitions;
those that need nothing but the element itself live here, keyed by type name, and the walker
runs them after an object of that type has been checked element by element.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from app.validation.primitives import base64_length

Problem = tuple[str, str, str]  # (issue code, FHIRPath, diagnostics)
TypeRule = Callable[[dict[str, Any], str], list[Problem]]


def _attachment(obj: dict[str, Any], path: str) -> list[Problem]:
    """Attachment.size states the decoded length of data; a mismatch means a truncated upload."""
    size, data = obj.get("size"), obj.get("data")
    if type(size) is not int or type(data) is not str:
        return []
    actual = base64_length(data)
    if actual is None or actual == size:
        return []  # invalid base64 is reported by the data element itself
    text = f"{path}.size: stated attachment size {size} does not match the {actual} bytes of data"
    return [("value", f"{path}.size", text)]


TYPE_RULES: Final[dict[str, TypeRule]] = {"Attachment": _attachment}
