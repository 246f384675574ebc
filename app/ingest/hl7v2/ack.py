"""HL7 v2 acknowledgements (original mode) for what a sender gave us.

An ACK must go back even when the message could not be read at all, so a sender never waits
forever or resends blindly: without a parsed original the header fields are left blank and
MSA-2 is empty, but the code and the reason are still there.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.ingest.hl7v2.parse import Hl7Record

ACK_CODES = frozenset({"AA", "AE", "AR", "CA", "CE", "CR"})
FALLBACK_VERSION = "2.5"
"""MSH-12 of an ACK whose original could not be read."""

# HL7 table 0357 (message error condition codes) entries we use.
ERROR_NAMES = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "207": "Application internal error",
}
_MSA_TEXT_LIMIT = 80  # MSA-3 is ST(80) in v2.4 and v2.5 (escapes may add a few)
_PRE_25 = ("2.1", "2.2", "2.3", "2.4")


def escape(text: str) -> str:
    """Text made safe for an ER7 field: delimiters escaped, line breaks as spaces."""
    text = text.replace("\\", "\\E\\")
    for char, code in (("|", "F"), ("^", "S"), ("&", "T"), ("~", "R")):
        text = text.replace(char, f"\\{code}\\")
    return " ".join(text.splitlines())


def ack_message(
    original: Hl7Record | None,
    code: str,
    text: str,
    *,
    control_id: str,
    error_code: str = "207",
    now: datetime | None = None,
) -> bytes:
    """An ER7 ACK (segments ended by ``\\r``, no MLLP framing) answering ``original``.

    AE/AR (and CE/CR) carry an ERR segment with ``error_code`` from HL7 table 0357, in the
    v2.4 layout (ERR-1) or the v2.5+ one (ERR-3, ERR-4, ERR-8) to match the original.
    """
    if code not in ACK_CODES:
        raise ValueError(
            f"{code!r} is not an acknowledgement code ({', '.join(sorted(ACK_CODES))})"
        )
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
    if original is not None:
        header = original.header_field
        addresses = [header(5), header(6), header(3), header(4)]
        processing, version = header(11) or "P", header(12) or FALLBACK_VERSION
        answered, trigger = header(10), escape(original.trigger)
    else:
        addresses = ["", "", "", ""]
        processing, version, answered, trigger = "P", FALLBACK_VERSION, "", ""
    message_type = f"ACK^{trigger}^ACK" if trigger else "ACK"
    msh = ["MSH", "^~\\&", *addresses, stamp, "", message_type, escape(control_id)]
    segments = [
        "|".join([*msh, processing, version]),
        "|".join(["MSA", code, answered, escape(text[:_MSA_TEXT_LIMIT])]),
    ]
    if code[1] in "ER":
        segments.append(_err(error_code, escape(text), version))
    return ("\r".join(segments) + "\r").encode("utf-8")


def _err(error_code: str, text: str, version: str) -> str:
    name = escape(ERROR_NAMES.get(error_code, ""))
    if version.startswith(_PRE_25):
        return f"ERR|^^^{error_code}&{name}&HL70357"
    return f"ERR|||{error_code}^{name}^HL70357|E||||{text}"
