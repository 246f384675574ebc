from __future__ import annotations

import pytest

from app.ingest.hl7v2 import parse_message, split_messages
from app.ingest.records import SourceError
from tests.ingest.hl7v2.messages import KINGS_REF, SAMPLES, sample

MSH_A = b"MSH|^~\\&|EPR|KCH|MITRAL|SLMVN|20260115103000||ADT^A04|KCH1|P|2.4"
MSH_B = b"MSH|^~\\&|EPR|KCH|MITRAL|SLMVN|20260115103100||ADT^A08|KCH2|P|2.4"
PID = b"PID|1||9434765919^^^NHS^NH||SMITH^JOHN"
PV1 = b"PV1|1|O|CARD^OPD1"


def test_mixed_line_endings_become_carriage_returns() -> None:
    data = MSH_A + b"\r\n" + PID + b"\n" + PV1 + b"\r" + MSH_B + b"\n" + PID + b"\r\n"
    assert split_messages(data) == [
        MSH_A + b"\r" + PID + b"\r" + PV1 + b"\r",
        MSH_B + b"\r" + PID + b"\r",
    ]


def test_mllp_framing_is_stripped() -> None:
    data = b"\x0b" + MSH_A + b"\r" + PID + b"\r\x1c\r" + b"\x0b" + MSH_B + b"\r" + PV1 + b"\x1c\r"
    assert split_messages(data) == [MSH_A + b"\r" + PID + b"\r", MSH_B + b"\r" + PV1 + b"\r"]


def test_batch_wrappers_are_dropped() -> None:
    data = b"\r".join(
        [
            b"FHS|^~\\&|EPR|KCH|MITRAL|SLMVN|20260115",
            b"BHS|^~\\&|EPR|KCH|MITRAL|SLMVN|20260115",
            MSH_A,
            PID,
            MSH_B,
            PV1,
            b"BTS|2",
            b"FTS|1",
        ]
    )
    units = split_messages(data)
    assert units == [MSH_A + b"\r" + PID + b"\r", MSH_B + b"\r" + PV1 + b"\r"]
    assert [parse_message(u).control_id for u in units] == ["KCH1", "KCH2"]


def test_blank_lines_indentation_and_byte_order_marks_are_ignored() -> None:
    data = b"\xef\xbb\xbf\n\n" + MSH_A + b"\n\n   \n  " + PID + b"\n\n"
    assert split_messages(data) == [MSH_A + b"\r" + PID + b"\r"]


def test_messages_glued_by_a_missing_final_newline_are_separated() -> None:
    data = sample("ADT-A40-01.hl7") + sample("ADT-A40-02.hl7")
    units = split_messages(data)
    assert len(units) == 2
    assert units[0].endswith(b"MRG|56789^^^BCBS^MR\r")
    assert units[1].startswith(b"MSH|^~\\&|Ntierprise")


def test_junk_before_the_first_message_is_a_unit_that_fails_to_parse() -> None:
    data = b"Hello from the interface engine\n" + MSH_A + b"\n" + PID
    units = split_messages(data)
    assert units[0] == b"Hello from the interface engine\r"
    assert units[1] == MSH_A + b"\r" + PID + b"\r"
    with pytest.raises(SourceError, match="no MSH segment"):
        parse_message(units[0])


def test_segments_after_a_message_stay_with_it() -> None:
    units = split_messages(KINGS_REF.encode())
    assert len(units) == 1
    assert units[0].count(b"\r") == KINGS_REF.count("\r")


def test_empty_input_has_no_units() -> None:
    assert split_messages(b"") == []
    assert split_messages(b"\r\n \n\x0b\x1c\r") == []


def test_every_sample_file_concatenated_splits_into_one_unit_per_file() -> None:
    data = b"".join(path.read_bytes() for path in SAMPLES)
    units = split_messages(data)
    assert len(units) == len(SAMPLES)
    assert all(unit.startswith(b"MSH|^~\\&|") for unit in units)
