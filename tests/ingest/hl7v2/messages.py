"""Messages shared by the HL7 v2 tests: the public samples and a King's-style v2.4 referral."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
SAMPLES = sorted(DATA.glob("*.hl7"))

KINGS_REF = (
    "MSH|^~\\&|EPR|KCH^RJZ01^ODS|MITRAL|SLMVN|20260329013000||REF^I12^REF_I12|KCH000123|P|2.4"
    "|||AL|NE|GBR|UNICODE UTF-8\r"
    "EVN|I12|20260329013000\r"
    "PID|1||9434765919^^^NHS^NH~K1234567^^^KCH^MR||SMITH^JOHN^Andrew^^MR||19560412|M|||"
    "12 Denmark Hill^^London^^SE5 9RS^GBR||020 7946 0000^PRN^PH\r"
    "PV1|1|O|CARD^OPD1^^KCH|||||||CAR\r"
    "RF1|P^Pending^HL70283|U^Urgent^HL70280|CARD^Cardiology^L||O^Outpatient^HL70284"
    "|KCH-REF-0042|20260328|||\r"
    "PRD|RP^Referring Provider^HL70286|JONES^ALICE^^^DR|||||C1234567^GMC\r"
    "DG1|1||MR-SEV^Severe mitral regurgitation^LOCAL||20260320\r"
    'ZKC|1|TEER candidate\\T\\ heart team review|""\r'
)


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()
