"""Barts Heart Centre HL7 v2.5 messages as docs/centres.md defines them (segments ended by
``\\r\\n``, monthly files wrapped in FHS/BHS ... BTS/FTS), with keyword arguments for the
variations the tests need (a corrected date of birth, a bad NHS number, an unknown code)."""

from __future__ import annotations

NHS = "9434765919"
MRN = "BH00123456"
REFERRAL = "BHC-REF-000123"
ORDER = "BHC-ORD-000078"
VISIT = "BHC-V-000311"


def seg(name: str, fields: dict[int, str]) -> str:
    """One segment from its non-empty fields by number (HL7 positions start at 1)."""
    last = max(fields)
    return "|".join([name, *(fields.get(n, "") for n in range(1, last + 1))])


def msh(
    message_type: str,
    control_id: str,
    *,
    version: str = "2.5",
    facility: str = "BHC",
    sent: str = "20260312093015",
) -> str:
    return (
        f"MSH|^~\\&|MILLENNIUM|{facility}|MITRAL-FHIR|SLMVN|{sent}||{message_type}|"
        f"{control_id}|P|{version}|||AL|NE|GBR|UNICODE UTF-8"
    )


def pid(
    *,
    nhs: str = NHS,
    mrn: str = MRN,
    family: str = "OKONKWO",
    given: str = "Adaeze",
    dob: str = "19480314",
    died: str = "",
) -> str:
    fields = {
        1: "1",
        3: f"{mrn}^^^BHC^MR~{nhs}^^^NHS^NH",  # barts sends the MRN first
        5: f"{family}^{given}^^^Mrs",
        7: dob,
        8: "F",
        11: "12 Whitechapel Road^^London^^E1 1BB^GBR^H",
    }
    if died:
        fields.update({29: died, 30: "Y"})
    return seg("PID", fields)


def message(*segments: str) -> str:
    return "".join(s + "\r\n" for s in segments)


def batch(*messages: str) -> str:
    header = "|^~\\&|MILLENNIUM|BHC|MITRAL-FHIR|SLMVN|20260430235900"
    return (
        f"FHS{header}\r\nBHS{header}\r\n" + "".join(messages) + f"BTS|{len(messages)}\r\nFTS|1\r\n"
    )


def referral(
    control_id: str = "BHC000000101",
    *,
    status: str = "A^Accepted^HL70283",
    reason: str = "BHC_REF_001^SEVERE MR^99BHC",
    received: str = "20260312093000",
    **patient: str,
) -> str:
    return message(
        msh("REF^I12^REF_I12", control_id),
        seg(
            "RF1",
            {
                1: status,
                2: "R^Routine^HL70280",
                3: "GP^General practice^99BHCSRC",
                5: "O^Outpatient^HL70284",
                6: f"{REFERRAL}^BHC",
                7: received,
                9: "20260313",
                11: "000012345678^eRS",
            },
        ),
        seg(
            "PRD",
            {
                1: "RP^Referring provider^HL70286",
                2: "HUSSAIN^Amir^^^Dr",
                3: "Mile End Group Practice^^London^^E1 4DG",
                7: "F84003^ODS",
            },
        ),
        pid(**patient),
        seg("DG1", {1: "1", 3: reason, 5: "20260312", 6: "W"}),
        seg("NTE", {1: "1", 3: "Breathless on exertion. TTE: severe MR \\T\\ prolapse."}),
    )


def mdt(control_id: str = "BHC000000102", *, outcome: str = "MDT_TEER^TRANSCATHETER REPAIR") -> str:
    return message(
        msh("SIU^S12^SIU_S12", control_id, sent="20260402160000"),
        seg(
            "SCH",
            {
                1: "BHC-APT-000456^BHC",
                2: "BHC-APT-000456^BHC",
                7: "^Heart team discussion",
                25: "Complete",
                26: f"{REFERRAL}^BHC",
            },
        ),
        seg("TQ1", {1: "1", 7: "20260402140000", 8: "20260402143000"}),
        pid(),
        seg("RGS", {1: "1"}),
        seg(
            "AIS",
            {
                1: "1",
                2: "A",
                3: "BHC_CLN_002^HEART TEAM MDT^99BHC",
                4: "20260402140000",
                7: "30",
                8: "min",
            },
        ),
        seg("AIL", {1: "1", 3: "HTMDT^^^BHC"}),
        seg("ZBH", {1: "1", 2: outcome, 5: "PRIMARY"}),
    )


def booking(control_id: str = "BHC000000104", *, service: str = "BHC_PROC_014") -> str:
    """A procedure booking: SCH-26 is the intervention order, AIS-3 the procedure code."""
    return message(
        msh("SIU^S12^SIU_S12", control_id, sent="20260403100000"),
        seg(
            "SCH",
            {1: "BHC-APT-000457^BHC", 2: "BHC-APT-000457^BHC", 25: "Booked", 26: f"{ORDER}^BHC"},
        ),
        seg("TQ1", {1: "1", 7: "20260414090000", 8: "20260414120000"}),
        pid(),
        seg("RGS", {1: "1"}),
        seg("AIS", {1: "1", 2: "A", 3: f"{service}^MITRACLIP^99BHC", 4: "20260414090000"}),
        seg("AIL", {1: "1", 3: "CATHLAB2^^^BHC"}),
    )


def order(control_id: str = "BHC000000103", *, procedure: str = "BHC_PROC_014") -> str:
    return message(
        msh("OMG^O19^OMG_O19", control_id, sent="20260402153500"),
        pid(),
        seg("PV1", {1: "1", 2: "O"}),
        seg(
            "ORC",
            {
                1: "NW",
                2: f"{ORDER}^BHC",
                4: f"{REFERRAL}^BHC",
                5: "SC",
                9: "20260402153000",
                12: "C4471203^PATEL^Nina^^^Dr",
                21: "Harefield Hospital^^^^^^^^^RJ181",
            },
        ),
        seg(
            "OBR",
            {1: "1", 2: f"{ORDER}^BHC", 4: f"{procedure}^MITRACLIP / PASCAL MITRAL TEER^99BHC"},
        ),
        seg("ZBH", {1: "1", 3: "TS^TRANSSEPTAL", 4: "CLIP^MITRAL VALVE CLIP"}),
    )


def admission(control_id: str = "BHC000000105", *, mrn: str = MRN) -> str:
    return message(
        msh("ADT^A01^ADT_A01", control_id, sent="20260414073500"),
        seg("EVN", {1: "A01", 2: "20260414073500"}),
        pid(mrn=mrn),
        seg("PV1", {1: "1", 2: "I", 3: "CARDIAC^^^BHC", 19: VISIT, 44: "20260414073000"}),
    )


def procedure(control_id: str = "BHC000000106", *, device: str = "CLIP^MITRAL VALVE CLIP") -> str:
    return message(
        msh("ADT^A08^ADT_A01", control_id, sent="20260417121000"),
        seg("EVN", {1: "A08", 2: "20260417121000"}),
        pid(),
        seg(
            "PV1",
            {
                1: "1",
                2: "I",
                3: "CARDIAC^^^BHC",
                19: VISIT,
                44: "20260414073000",
                45: "20260417120000",
            },
        ),
        seg(
            "PR1",
            {
                1: "1",
                3: "BHC_PROC_014^MITRACLIP / PASCAL MITRAL TEER^99BHC",
                5: "20260414093000",
                6: "P",
            },
        ),
        seg("ZBH", {1: "1", 3: "TS^TRANSSEPTAL", 4: device}),
    )


def correction(control_id: str = "BHC000000107", **patient: str) -> str:
    return message(
        msh("ADT^A08^ADT_A01", control_id, sent="20260420110000"),
        seg("EVN", {1: "A08", 2: "20260420110000"}),
        pid(**patient),
        seg("PV1", {1: "1", 2: "O"}),
    )


def merge(control_id: str = "BHC000000108", *, retired: str = "BH00999999") -> str:
    return message(
        msh("ADT^A40^ADT_A39", control_id, sent="20260421090000"),
        seg("EVN", {1: "A40", 2: "20260421090000"}),
        pid(),
        seg("MRG", {1: f"{retired}^^^BHC^MR"}),
    )


def month() -> str:
    """A month's file: referral, MDT, order, booking, admission, procedure."""
    return batch(referral(), mdt(), order(), booking(), admission(), procedure())


def follow_up(control_id: str = "BHC000000110", *, based_on: str = "KCH-ORD-000011^KCH") -> str:
    """A valve clinic after treatment here that another hub's MDT ordered (SCH-26 theirs)."""
    return message(
        msh("SIU^S12^SIU_S12", control_id, sent="20260509151500"),
        seg(
            "SCH",
            {
                1: "BHC-APT-000020^BHC",
                2: "BHC-APT-000020^BHC",
                7: "^Valve clinic",
                25: "Complete",
                26: based_on,
            },
        ),
        seg("TQ1", {1: "1", 7: "202605081145", 8: "202605081205"}),
        pid(),
        seg("RGS", {1: "1", 2: "A"}),
        seg(
            "AIS",
            {
                1: "1",
                2: "A",
                3: "BHC_CLN_001^VALVE CLINIC^99BHC",
                4: "202605081145",
                7: "20",
                8: "min",
            },
        ),
        seg("AIL", {1: "1", 2: "A", 3: "VALVE^^^BHC"}),
    )
