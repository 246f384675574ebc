from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.ingest.hl7v2 import Hl7Record, parse_header, parse_message, split_messages
from app.ingest.records import SourceError, SourceRecord
from tests.ingest.hl7v2.messages import KINGS_REF, SAMPLES, sample

MSH = "MSH|^~\\&|EPR|KCH|MITRAL|SLMVN|20260115103000||ADT^A04|KCH1|P|2.4\r"
LEAF = re.compile(r"[A-Z0-9]{3}-\d+(\.\d+){0,2}\Z")


def record(text: str) -> Hl7Record:
    return parse_message(text.encode("utf-8"))


# -- every public sample -------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_parses(path: Path) -> None:
    units = split_messages(path.read_bytes())
    assert len(units) == 1
    parsed = parse_message(units[0])
    kind, trigger = path.stem.split("-")[:2]
    assert parsed.rule_key == f"{kind}^{trigger[:3]}"
    assert parsed.version in {"2.6", "2.8"}
    assert parsed.control_id
    assert parsed.values("PID-5.1")
    unread = parsed.unread()
    assert unread and all(LEAF.match(leaf) for leaf in unread)
    assert not [leaf for leaf in unread if leaf.startswith(("MSH", "MSA"))]


def test_a_file_parses_without_splitting_first() -> None:
    parsed = parse_message(sample("ORM-O01-01.hl7"))  # \n endings and a byte-order mark
    assert parsed.rule_key == "ORM^O01"
    assert parsed.control_id == "MSG00018"


# -- header and paths ----------------------------------------------------------------------


def test_header_properties_of_a_kings_referral() -> None:
    parsed = record(KINGS_REF)
    assert parsed.kind == "hl7v2"
    assert parsed.rule_key == "REF^I12"
    assert (parsed.message_type, parsed.trigger) == ("REF", "I12")
    assert parsed.control_id == "KCH000123"
    assert parsed.version == "2.4"
    assert parsed.sending_facility == "KCH"
    assert parsed.position == "message KCH000123"
    assert parsed.encoding == "utf-8"
    assert parsed.raw_text == KINGS_REF
    assert parsed.header_field(4) == "KCH^RJZ01^ODS"


def test_it_is_a_source_record() -> None:
    source: SourceRecord = record(KINGS_REF)
    assert source.values("RF1-6") == ["KCH-REF-0042"]


def test_paths_on_the_ref_i12_sample() -> None:
    parsed = parse_message(sample("REF-I12-01.hl7"))
    assert parsed.position == "message MSG00112"
    assert parsed.values("RF1-6.1") == ["226839"]
    assert parsed.values("RF1-6.2") == ["EPIC"]
    assert parsed.values("RF1-6") == ["226839^EPIC"]
    assert parsed.values("RF1-7") == ["20220125"]
    assert parsed.values("RF1-1.1") == ["P"]
    assert parsed.values("PID-7") == ["19610615"]
    assert parsed.values("PID-8") == ["M"]
    assert parsed.values("PR1-3.1") == ["76164006"]
    assert parsed.values("RF1-4") == []
    assert parsed.values("RF1-99") == []
    assert parsed.values("RF1-6.9") == []
    assert parsed.values("ZZZ-1") == []
    assert parsed.items("PID-5.2") == ["ADAM"]


def test_subcomponents() -> None:
    parsed = parse_message(sample("REF-I12-01.hl7"))
    # RF1-20: 12131^McWilliams^...^^&Provider Master.Community Health and Hospitals&L^...
    assert parsed.values("RF1-20.9.2") == ["Provider Master.Community Health and Hospitals"]
    assert parsed.values("RF1-20.9.3") == ["L"]
    assert parsed.values("RF1-20.9") == ["&Provider Master.Community Health and Hospitals&L"]
    assert parsed.values("RF1-20.1.1") == ["12131"]


def test_without_a_scope_every_repetition_of_every_occurrence_is_read() -> None:
    parsed = parse_message(sample("REF-I12-01.hl7"))
    assert parsed.values("PID-3.1") == ["PATID1234", "123456789"]
    assert parsed.values("PID-3") == [
        "PATID1234^5^M11^ADT1^GOOD HEALTH HOSPITAL",
        "123456789^^^^^USSSA",
    ]
    merged = parse_message(sample("ADT-A40-02.hl7"))
    assert merged.values("PID-3.1") == ["12345", "145"]
    assert merged.values("MRG-1.1") == ["56789", "569"]


def test_each_field_repetition_pins_the_repetition_and_its_segment() -> None:
    parsed = record(KINGS_REF)
    scopes = parsed.each("PID-3")
    assert len(scopes) == 2
    assert [parsed.values("PID-3.1", s) for s in scopes] == [["9434765919"], ["K1234567"]]
    nhs = [s for s in scopes if parsed.values("PID-3.5", s) == ["NH"]]
    assert [parsed.values("PID-3.1", s) for s in nhs] == [["9434765919"]]
    assert parsed.values("PID-5.1", scopes[1]) == ["SMITH"]


def test_each_segment_pins_the_occurrence() -> None:
    merged = parse_message(sample("ADT-A40-02.hl7"))
    patients = merged.each("PID")
    assert len(patients) == 2
    assert [merged.values("PID-3.1", s) for s in patients] == [["12345"], ["145"]]
    assert [merged.values("PID-11.1", s) for s in patients] == [
        ["123 Any Street"],
        ["123 Street"],
    ]
    inner = merged.each("PID-3", patients[1])
    assert len(inner) == 1
    assert merged.values("PID-3.1", inner[0]) == ["145"]
    assert merged.each("PID", patients[0]) == [patients[0].bind("PID", patients[0].get("PID"))]
    assert merged.each("PR1") == []


def test_each_over_several_segments_of_a_schedule() -> None:
    parsed = parse_message(sample("SIU-S12_1.hl7"))
    services = parsed.each("AIS")
    assert [parsed.values("AIS-3.2", s) for s in services] == [
        ["Hemogram"],
        ["Chest X-Ray"],
        ["CT Scan"],
    ]


def test_empty_repetitions_are_not_occurrences() -> None:
    parsed = record(MSH + "PID|1||~9434765919^^^NHS^NH~||SMITH\r")
    assert len(parsed.each("PID-3")) == 1
    assert parsed.values("PID-3.1") == ["9434765919"]


# -- escapes and nulls ---------------------------------------------------------------------


def test_escapes_are_decoded_in_values() -> None:
    text = MSH + "NTE|1||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\g\\X41\\\\H\\bold\\N\\ \\Zx\\\r"
    parsed = record(text)
    assert parsed.values("NTE-3") == ["a|b^c&d~e\\f\ngAbold \\Zx\\"]


def test_a_composite_keeps_its_escapes_so_the_parts_stay_separable() -> None:
    parsed = record(MSH + "NTE|1||A\\S\\B^C\r")
    assert parsed.values("NTE-3") == ["A\\S\\B^C"]
    assert parsed.values("NTE-3.1") == ["A^B"]
    assert parsed.values("NTE-3.2") == ["C"]


def test_trailing_empty_components_do_not_make_a_composite() -> None:
    parsed = record(MSH + "PID|1||||SMITH^^^\r")
    assert parsed.values("PID-5") == ["SMITH"]


def test_escaped_ampersands_in_a_real_sample() -> None:
    parsed = parse_message(sample("OMG-O19-01.hl7"))
    urls = [v for v in parsed.values("OBX-5.1") if v.startswith("http")]
    assert urls
    assert "CaseView&ContainerID=0&SlideID=" in urls[0]


def test_the_hl7_null_is_empty() -> None:
    parsed = record(KINGS_REF)
    assert parsed.values("ZKC-3") == []
    assert "ZKC-3" not in parsed.unread()
    assert parsed.values("ZKC-2") == ["TEER candidate& heart team review"]


# -- unread --------------------------------------------------------------------------------


def test_unread_lists_the_leaves_nothing_read_in_message_order() -> None:
    parsed = record(
        MSH + "PID|1||9434765919^^^NHS^NH~K1234567^^^KCH^MR||SMITH^JOHN^Andrew\r"
        "PV1|1|O|CARD^OPD1^^KCH\r"
        'ZKC|1|TEER candidate|""\r'
    )
    for path in ("PID-3.1", "PID-3.5", "PID-5.1"):
        parsed.values(path)
    assert parsed.unread() == [
        "PID-1",
        "PID-3.4",
        "PID-5.2",
        "PID-5.3",
        "PV1-1",
        "PV1-2",
        "PV1-3.1",
        "PV1-3.2",
        "PV1-3.4",
        "ZKC-1",
        "ZKC-2",
    ]
    parsed.values("PID-5")  # a field covers all of its components
    parsed.values("PV1-3.2")
    parsed.values("ZKC-1.1")  # a single-valued field is read through its first component
    assert parsed.unread() == ["PID-1", "PID-3.4", "PV1-1", "PV1-2", "PV1-3.1", "PV1-3.4", "ZKC-2"]


def test_unread_names_subcomponents_when_a_component_has_them() -> None:
    parsed = record(MSH + "PID|1||K1&KCH&L^^^KCH^MR\r")
    parsed.values("PID-3.4")
    parsed.values("PID-3.5")
    parsed.values("PID-1")
    assert parsed.unread() == ["PID-3.1.1", "PID-3.1.2", "PID-3.1.3"]
    parsed.values("PID-3.1.2")
    assert parsed.unread() == ["PID-3.1.1", "PID-3.1.3"]
    parsed.values("PID-3.1")
    assert parsed.unread() == []


def test_unread_on_a_kings_referral_reports_the_z_segment() -> None:
    parsed = record(KINGS_REF)
    for path in ("PID-3", "PID-5", "PID-7", "PID-8", "RF1-1.1", "RF1-6", "RF1-7", "DG1-3.1"):
        parsed.values(path)
    unread = parsed.unread()
    assert "ZKC-2" in unread
    assert "PV1-3.1" in unread
    assert not [leaf for leaf in unread if leaf.startswith(("MSH", "PID-3", "PID-5", "RF1-6"))]
    assert unread.index("EVN-1") < unread.index("PID-1") < unread.index("ZKC-2")
    assert len(unread) == len(set(unread))


def test_each_alone_reads_nothing() -> None:
    parsed = record(MSH + "PR1|1||76164006^Biopsy of colon^SCT\r")
    parsed.each("PR1")
    assert parsed.unread() == ["PR1-1", "PR1-3.1", "PR1-3.2", "PR1-3.3"]


# -- what cannot be read at all ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "location", "code", "reason"),
    [
        (b"", "", "required", "the message is empty"),
        (b"\r\n\r\n  \n", "", "required", "the message is empty"),
        (b"PID|1||9434765919^^^NHS^NH\r", "MSH", "structure", "no MSH segment"),
        (b"Hello\rMSH|^~\\&|EPR\r", "MSH", "structure", "no MSH segment: .*'Hello'"),
        (b"MSH#^~\\&#EPR#KCH\rPID#1\r", "MSH-1", "structure", "MSH-1 field separator"),
        (b"MSH|^~\\|EPR|KCH\rPID|1\r", "MSH-2", "structure", r"encoding characters are '\^~\\\\'"),
        (b"MSH|^~|EPR|KCH\rPID|1\r", "MSH-2", "structure", "encoding characters"),
        (b"MSH|^~\\$|EPR|KCH\rPID|1\r", "MSH-2", "structure", "encoding characters"),
        (b"MSH|^~\\&|EPR|KCH|||2026||^I12|X1|P|2.4\rPID|1\r", "MSH-9", "required", "MSH-9"),
        (b"MSH|^~\\&|EPR|KCH|||2026||REF^I12||P|2.4\rPID|1\r", "MSH-10", "required", "MSH-10"),
        (MSH.encode() + b"PID|1||9434765919\rPV", "segment 3", "structure", "cut off"),
        (MSH.encode() + b"PID|1||9434765919\rPV1", "segment 3", "structure", "has no fields"),
        (MSH.encode() + b"pid|1\r", "segment 2", "structure", "not a segment"),
        (MSH.encode() + b"PID 1 2\r", "segment 2", "structure", "not a segment"),
        (MSH.encode(), "", "structure", "only an MSH segment"),
        (MSH.encode() + b"PID|1\r" + MSH.encode(), "segment 3", "structure", "another message"),
        (
            MSH.encode() + b"PID|1||\x81\x8d\r",
            "",
            "invalid",
            "neither UTF-8 nor .*byte 0x81 at offset 72",
        ),
    ],
)
def test_source_errors(raw: bytes, location: str, code: str, reason: str) -> None:
    with pytest.raises(SourceError, match=reason) as caught:
        parse_message(raw)
    assert (caught.value.location, caught.value.code) == (location, code)


def test_windows_1252_is_the_fallback_and_is_noted() -> None:
    parsed = parse_message(MSH.encode() + b"PID|1||||D\xe9sir\xe9e^Anne\r")
    assert parsed.encoding == "cp1252"
    assert parsed.values("PID-5.1") == ["Désirée"]


def test_utf8_text_is_read() -> None:
    parsed = record(MSH + "PID|1||||Łukasiewicz^Zoë\r")
    assert parsed.values("PID-5") == ["Łukasiewicz^Zoë"]


def test_unknown_types_and_versions_are_the_mappings_business() -> None:
    parsed = record("MSH|^~\\&|EPR|KCH|||2026||ZZZ^Z99|X1|P|9.9\rZZZ|1\r")
    assert (parsed.rule_key, parsed.version) == ("ZZZ^Z99", "9.9")
    ack_only = record("MSH|^~\\&|EPR|KCH|||2026||ACK|X2|P|2.4\rMSA|AA|X1\r")
    assert ack_only.rule_key == "ACK"
    assert ack_only.unread() == []


@pytest.mark.parametrize("path", ["PID", "pid-3", "PID-0", "PID-3.0", "PID.3", "PID-3-1", ""])
def test_bad_paths_for_values(path: str) -> None:
    with pytest.raises(ValueError, match=r"names a segment|not an HL7 v2 path"):
        record(KINGS_REF).values(path)


def test_components_do_not_repeat() -> None:
    with pytest.raises(ValueError, match="only segments and fields repeat"):
        record(KINGS_REF).each("PID-3.1")


def test_the_header_of_a_broken_message_can_still_address_a_reply() -> None:
    header = parse_header(MSH.encode() + b"PID|1||9434765919\rPV")
    assert header is not None
    assert (header.control_id, header.trigger, header.header_field(3)) == ("KCH1", "A04", "EPR")
    assert parse_header(b"not hl7 at all") is None
    assert parse_header(b"") is None
    assert parse_header(b"MSH|^~|X\r") is None
