from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.ingest.hl7v2 import ack_message, parse_message
from tests.ingest.hl7v2.messages import KINGS_REF, sample

NOW = datetime(2026, 3, 29, 1, 30, 5, tzinfo=UTC)


def test_accept_swaps_sender_and_receiver_and_answers_the_control_id() -> None:
    original = parse_message(sample("REF-I12-01.hl7"))
    raw = ack_message(original, "AA", "stored", control_id="ACK0001", now=NOW)
    assert raw.endswith(b"\r")
    ack = parse_message(raw)
    assert ack.rule_key == "ACK^I12"
    assert ack.values("MSH-9") == ["ACK^I12^ACK"]
    assert ack.values("MSH-3") == ["RHH"]
    assert ack.header_field(4) == "RHHFacility^2.16.840.1.1122848.1.32^ISO"
    assert ack.values("MSH-5") == ["GHH"]
    assert ack.header_field(6) == "GHHSFacility^2.16.840.1.122848.1.30^ISO"
    assert ack.values("MSH-7") == ["20260329013005+0000"]
    assert (ack.control_id, ack.version) == ("ACK0001", "2.8")
    assert ack.values("MSH-11") == ["P"]
    assert ack.values("MSA-1") == ["AA"]
    assert ack.values("MSA-2") == ["MSG00112"]
    assert ack.values("MSA-3") == ["stored"]
    assert ack.values("ERR-1") == []


def test_an_error_carries_an_err_segment_in_the_v25_layout() -> None:
    original = parse_message(sample("REF-I12-01.hl7"))
    reason = "PID-7 (message MSG00112): '2026-13-01' is not an HL7 v2 date | see ^ & ~ \\"
    ack = parse_message(ack_message(original, "AE", reason, control_id="ACK2", now=NOW))
    assert ack.values("MSA-1") == ["AE"]
    assert ack.values("ERR-3.1") == ["207"]
    assert ack.values("ERR-3.2") == ["Application internal error"]
    assert ack.values("ERR-4") == ["E"]
    assert ack.values("ERR-8") == [reason]
    assert ack.values("MSA-3") == [reason[:80]]


def test_a_v24_original_gets_err_1() -> None:
    original = parse_message(KINGS_REF.encode())
    raw = ack_message(original, "AR", "version 2.4 only", control_id="A3", error_code="203")
    ack = parse_message(raw)
    assert ack.version == "2.4"
    assert ack.values("ERR-1.4.1") == ["203"]
    assert ack.values("ERR-1.4.2") == ["Unsupported version id"]
    assert ack.values("ERR-3") == []


def test_without_an_original_the_header_is_blank_but_the_reason_is_there() -> None:
    raw = ack_message(None, "AR", "no MSH segment", control_id="A4", now=NOW)
    ack = parse_message(raw)
    assert ack.rule_key == "ACK"
    assert ack.values("MSH-3") == ack.values("MSH-5") == ack.values("MSA-2") == []
    assert ack.values("MSA-1") == ["AR"]
    assert ack.values("ERR-8") == ["no MSH segment"]


def test_line_breaks_in_the_text_do_not_break_segments() -> None:
    ack = parse_message(ack_message(None, "AE", "first\nsecond\r\nthird", control_id="A5"))
    assert ack.values("MSA-3") == ["first second third"]


def test_only_acknowledgement_codes() -> None:
    with pytest.raises(ValueError, match="not an acknowledgement code"):
        ack_message(None, "OK", "fine", control_id="A6")
