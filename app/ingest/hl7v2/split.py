"""Cut a file, HTTP body or MLLP payload into one ER7 message per unit.

Senders differ in everything around the messages: ``\\r``, ``\\n`` or ``\\r\\n`` between
segments, MLLP framing bytes left in files, FHS/BHS batch wrappers, byte-order marks from
files concatenated together, blank lines. All of that is noise; the messages are what gets
logged and mapped. Nothing else is dropped: lines before the first MSH become a unit of their
own, which then fails to parse with a clear reason instead of disappearing.
"""

from __future__ import annotations

import re

_BOM = b"\xef\xbb\xbf"
_WRAPPERS = frozenset({b"FHS", b"BHS", b"BTS", b"FTS"})
# A message header glued to the previous line (files concatenated without a final newline).
_GLUED_HEADER = re.compile(rb"(?<=[^\r])MSH\|\^~\\&")


def split_messages(data: bytes) -> list[bytes]:
    """One unit per message, segments ended by ``\\r``, in input order; junk first if any."""
    text = data.translate(None, b"\x0b\x1c").replace(_BOM, b"")
    text = text.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    text = _GLUED_HEADER.sub(b"\rMSH|^~\\\\&", text)
    messages: list[list[bytes]] = []
    junk: list[bytes] = []
    for raw_line in text.split(b"\r"):
        line = raw_line.lstrip(b" \t")
        if not line.strip():
            continue
        head = line[:3]
        if len(line) > 3 and line[3:4].isalnum():
            head = b""  # e.g. "MSHX": not a header, just a bad segment
        if head in _WRAPPERS:
            continue
        if head == b"MSH":
            messages.append([line])
        elif messages:
            messages[-1].append(line)
        else:
            junk.append(line)
    units = [b"\r".join(lines) + b"\r" for lines in messages]
    if junk:
        units.insert(0, b"\r".join(junk) + b"\r")
    return units
