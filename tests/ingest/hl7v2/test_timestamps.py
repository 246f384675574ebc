from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from app.ingest.hl7v2.timestamps import hl7_date, hl7_datetime

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026", "2026"),
        ("202603", "2026-03"),
        ("20260329", "2026-03-29"),
        ("2026071510", "2026-07-15T10:00:00+01:00"),
        ("202601151030", "2026-01-15T10:30:00+00:00"),
        ("20260715103000", "2026-07-15T10:30:00+01:00"),
        ("20260715103000.1234", "2026-07-15T10:30:00.1234+01:00"),
        (" 20260115103000 ", "2026-01-15T10:30:00+00:00"),
    ],
)
def test_precision_is_kept_and_the_zone_gives_the_offset(text: str, expected: str) -> None:
    assert hl7_datetime(text, LONDON) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("202201251620+0000", "2022-01-25T16:20:00+00:00"),
        ("20210817151943.4+0200", "2021-08-17T15:19:43.4+02:00"),
        ("20260715103000-0500", "2026-07-15T10:30:00-05:00"),
        ("20260115103000+0100", "2026-01-15T10:30:00+01:00"),
        ("20260715+0100", "2026-07-15"),
    ],
)
def test_an_explicit_offset_is_kept_as_given(text: str, expected: str) -> None:
    assert hl7_datetime(text, LONDON) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Clocks go forward at 2026-03-29 01:00 UTC (01:00 GMT -> 02:00 BST).
        ("20260329005959", "2026-03-29T00:59:59+00:00"),
        ("20260329013000", "2026-03-29T01:30:00+00:00"),  # in the gap: fold=0, GMT
        ("20260329020000", "2026-03-29T02:00:00+01:00"),
        # Clocks go back at 2026-10-25 01:00 UTC (02:00 BST -> 01:00 GMT).
        ("20261025005959", "2026-10-25T00:59:59+01:00"),
        ("20261025013000", "2026-10-25T01:30:00+01:00"),  # twice: fold=0, the first (BST)
        ("20261025020000", "2026-10-25T02:00:00+00:00"),
    ],
)
def test_2026_daylight_saving_changes_in_london(text: str, expected: str) -> None:
    assert hl7_datetime(text, LONDON) == expected


def test_another_zone() -> None:
    assert hl7_datetime("202607151030", ZoneInfo("America/New_York")) == (
        "2026-07-15T10:30:00-04:00"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("20261301", "month 13"),
        ("20260230", r"day 30 \(2026-02 has 28 days\)"),
        ("2026071524", "hour 24"),
        ("202607151060", "minute 60"),
        ("20260715103060", "second 60"),
        ("20260715103000+2500", r"offset \+2500"),
        ("2026-07-15", "expected YYYY"),
        ("202607151030.5", "expected YYYY"),
        ("2026071", "expected YYYY"),
        ("", "expected YYYY"),
        ("00000101", "year 0000"),
    ],
)
def test_bad_date_times_are_refused_with_the_reason(text: str, reason: str) -> None:
    expected = f"^{re.escape(repr(text))} is not an HL7 v2 date/time: {reason}"
    with pytest.raises(ValueError, match=expected):
        hl7_datetime(text, LONDON)


def test_dates() -> None:
    assert hl7_date("19610615") == "1961-06-15"
    assert hl7_date("196106") == "1961-06"
    assert hl7_date("1961") == "1961"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20261301", "'20261301' is not an HL7 v2 date: month 13"),
        ("20250229", "'20250229' is not an HL7 v2 date: day 29 (2025-02 has 28 days)"),
        ("196106151200", "'196106151200' is not an HL7 v2 date: it has a time or offset part"),
        ("19610615+0100", "'19610615+0100' is not an HL7 v2 date: it has a time or offset part"),
        ("15/06/1961", "'15/06/1961' is not an HL7 v2 date: expected YYYY[MM[DD]]"),
    ],
)
def test_bad_dates(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        hl7_date(text)
    assert str(caught.value) == message


def test_leap_day_is_a_date() -> None:
    assert hl7_date("20240229") == "2024-02-29"
