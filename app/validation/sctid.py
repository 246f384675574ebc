"""SNOMED CT identifier syntax: what can be checked about a SNOMED CT code without a server.

An SCTID is 6 to 18 digits, no leading zero, whose last digit is a Verhoeff check digit and
whose two digits before it (the partition identifier) say whether it names a concept, a
description or a relationship, in the international release (0x) or an extension (1x)
(SNOMED CT Technical Implementation Guide, "SCTID data structure"). A code that is none of
these, and no post-coordinated expression either, cannot be a SNOMED CT code.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["is_sctid", "sctid_problem"]

_DIGITS: Final = re.compile(r"[1-9]\d{5,17}")
# Characters only a post-coordinated expression (compositional grammar) contains.
_EXPRESSION: Final = re.compile(r"[:|=+{}()<>,\s]")
_PARTITIONS: Final = frozenset(
    {"00", "01", "02", "03", "04", "05", "10", "11", "12", "13", "14", "15"}
)
_D: Final = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P: Final = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def _verhoeff_ok(digits: str) -> bool:
    check = 0
    for position, char in enumerate(reversed(digits)):
        check = _D[check][_P[position % 8][int(char)]]
    return check == 0


def is_sctid(code: str) -> bool:
    """Whether ``code`` is a well-formed SNOMED CT identifier."""
    return bool(_DIGITS.fullmatch(code)) and code[-3:-1] in _PARTITIONS and _verhoeff_ok(code)


def sctid_problem(code: str) -> str | None:
    """Why ``code`` cannot be a SNOMED CT code, or None (an SCTID or an expression)."""
    if is_sctid(code) or _EXPRESSION.search(code):
        return None
    if not _DIGITS.fullmatch(code):
        return f"'{code}' is not a SNOMED CT identifier (6 to 18 digits) nor an expression"
    if code[-3:-1] not in _PARTITIONS:
        return f"'{code}' has no valid SNOMED CT partition identifier ({code[-3:-1]})"
    return f"'{code}' fails the SNOMED CT check digit (Verhoeff)"
