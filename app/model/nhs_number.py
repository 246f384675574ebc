"""The NHS number's modulus 11 check digit: one definition for validation (mv-nhs-1),
ingest (``as: nhs-number``) and the synthetic feeds."""

from __future__ import annotations


def check_digit(stem: str) -> int | None:
    """The check digit of a 9-digit stem, or None when the stem has none (11 - r = 10)."""
    total = sum(int(d) * w for d, w in zip(stem, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid(digits: str) -> bool:
    """Ten digits whose last is the check digit of the first nine."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    return check_digit(digits[:9]) == int(digits[9])
