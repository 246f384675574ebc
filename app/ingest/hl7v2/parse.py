"""One HL7 v2 message as a ``SourceRecord``: checked once on arrival, then read by path.

``parse_message`` rejects what cannot be read at all (bad bytes, no or broken MSH, wrong
encoding characters, a cut-off message) with a ``SourceError`` naming the reason. What is
readable but unexpected (another version, an unknown message type) is not its business: the
centre's mapping decides, from ``version`` and ``rule_key``.

Reading rules (``Hl7Record.values``):

- Without a scope a path reads every occurrence of the segment and every repetition of the
  field, in message order (``PID-3.1`` gives each identifier of each PID).
- ``each("PR1")`` pins one segment occurrence, ``each("PID-3")`` one repetition (and its
  segment); paths of that segment or field then resolve there only.
- Escapes (``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, ``\\.br\\``, ``\\Xhh\\``) are decoded in values.
  A field or component that has parts returns its ER7 text with escapes kept (``PID-5`` of
  ``EVERYMAN^ADAM`` is ``EVERYMAN^ADAM``) so the parts stay separable; one with a single
  part returns that part's value (``X^`` is ``X``).
- The HL7 null ``""`` counts as empty: FHIR has no "delete this value" marker to carry it.

Segments are split into fields, repetitions, components and subcomponents on first use, so a
message costs little more than reading its lines. (python-hl7's ``hl7.parse`` builds the
whole tree up front: about 3 ms for a 1 KB message here, over the whole budget of a unit.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from app.ingest.records import ROOT, Scope, SourceError

ENCODING_CHARACTERS = ("^~\\&", "^~\\&#")  # v2.7+ may add the truncation character
_BOM = b"\xef\xbb\xbf"
_SEGMENT_ID = re.compile(r"[A-Z0-9]{3}\Z")
_PATH = re.compile(r"([A-Z0-9]{3})(?:-(\d+)(?:\.(\d+)(?:\.(\d+))?)?)?\Z")
_ESCAPE = re.compile(r"\\([^\\]*)\\")
_ESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\", ".br": "\n", "H": "", "N": ""}
_NOT_REPORTED = frozenset({"MSH", "MSA"})
_NULL = '""'

Component = list[str]  # its subcomponents
Repetition = list[Component]
Field = list[Repetition]


class Hl7Path(NamedTuple):
    segment: str
    field: int | None
    component: int | None
    subcomponent: int | None


@lru_cache(maxsize=4096)
def parse_path(path: str) -> Hl7Path:
    """``PID``, ``PID-3``, ``PID-3.1``, ``PID-3.4.2``; raises ``ValueError`` otherwise."""
    match = _PATH.match(path)
    if match is None:
        raise ValueError(f"{path!r} is not an HL7 v2 path (e.g. PID, PID-3, PID-3.1, PID-3.4.2)")
    segment, *numbers = match.groups()
    parts = [int(n) if n is not None else None for n in numbers]
    if any(n == 0 for n in parts):
        raise ValueError(f"{path!r} is not an HL7 v2 path: positions start at 1")
    return Hl7Path(segment, *parts)


def unescape(text: str) -> str:
    """Decode HL7 escape sequences; unknown ones are kept as written."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(_unescape_one, text)


def _unescape_one(match: re.Match[str]) -> str:
    code = match.group(1)
    if code in _ESCAPES:
        return _ESCAPES[code]
    if code[:1] == "X" and len(code) > 1 and len(code) % 2 == 1:
        try:
            return bytes.fromhex(code[1:]).decode("utf-8", errors="replace")
        except ValueError:
            pass
    return match.group(0)


def _split_field(text: str) -> Field:
    if "^" not in text and "~" not in text and "&" not in text:
        return [[[text]]]  # most fields: empty or a plain value
    return [[component.split("&") for component in rep.split("^")] for rep in text.split("~")]


def _split_segment(line: str) -> list[Field]:
    """Index n is field n; for MSH that needs MSH-1 (the ``|`` itself) put back."""
    texts = line.split("|")
    if texts[0] == "MSH":
        return [[[[texts[0]]]], [[["|"]]], [[[texts[1]]]], *map(_split_field, texts[2:])]
    return [[[[texts[0]]]], *map(_split_field, texts[1:])]


def _er7(component: Component) -> str:
    return "&".join(component)


def _blank(text: str) -> bool:
    return not text or text == _NULL


def _component_value(component: Component) -> str:
    if len(component) == 1 or not any(component[1:]):
        return unescape(component[0])
    return "&".join(component).rstrip("&")


def _repetition_value(repetition: Repetition) -> str:
    raw = [_er7(c) for c in repetition]
    if len(raw) == 1 or not any(raw[1:]):
        return _component_value(repetition[0])
    return "^".join(raw).rstrip("^")


class Hl7Record:
    """A parsed message; ``values``/``items``/``each``/``unread`` as in ``SourceRecord``."""

    kind = "hl7v2"

    def __init__(self, lines: list[str], encoding: str) -> None:
        self._lines = lines
        self._split: list[list[Field] | None] = [None] * len(lines)
        self._ids = [line[:3] for line in lines]
        self._index: dict[str, list[int]] | None = None
        self._read: set[tuple[str, int, int | None, int | None]] = set()
        self.raw_text = "\r".join(lines) + "\r"
        """The decoded message, segments ended by ``\\r``."""
        self.encoding = encoding
        """``utf-8``, or ``cp1252`` when the bytes were not UTF-8 (worth a warning)."""
        self.control_id = self._header(10, 1)
        self.version = self._header(12, 1)
        self.sending_facility = self._header(4, 1)
        self.message_type = self._header(9, 1)
        self.trigger = self._header(9, 2)
        self.rule_key = f"{self.message_type}^{self.trigger}" if self.trigger else self.message_type
        self.position = f"message {self.control_id}"

    def header_field(self, number: int) -> str:
        """MSH-``number`` as ER7 text (escapes kept), for building replies; not a read."""
        reps = self._repetitions(0, number)
        return "~".join("^".join(map(_er7, rep)) for rep in reps)

    def values(self, path: str, scope: Scope = ROOT) -> list[str]:
        where = parse_path(path)
        if where.field is None:
            raise ValueError(f"{path!r} names a segment; read one of its fields ({path}-1)")
        self._read.add((where.segment, where.field, where.component, where.subcomponent))
        found: list[str] = []
        for segment, rep_index in self._targets(where.segment, where.field, scope):
            reps = self._repetitions(segment, where.field)
            chosen = reps if rep_index is None else reps[rep_index : rep_index + 1]
            for rep in chosen:
                value = self._value(rep, where.component, where.subcomponent)
                if not _blank(value):
                    found.append(value)
        return found

    def items(self, path: str, scope: Scope = ROOT) -> list[Any]:
        return list(self.values(path, scope))

    def each(self, path: str, scope: Scope = ROOT) -> Sequence[Scope]:
        where = parse_path(path)
        if where.component is not None:
            raise ValueError(f"{path!r}: only segments and fields repeat (e.g. PR1, PID-3)")
        if where.field is None:
            pinned = self._segment_pin(where.segment, scope)
            found = self._occurrences(where.segment) if pinned is None else [pinned]
            return [scope.bind(where.segment, index) for index in found]
        key = f"{where.segment}-{where.field}"
        scopes: list[Scope] = []
        for segment, rep_index in self._targets(where.segment, where.field, scope):
            for index, rep in enumerate(self._repetitions(segment, where.field)):
                if rep_index is not None and index != rep_index:
                    continue
                if not _blank(_repetition_value(rep)):
                    scopes.append(scope.bind(key, (segment, index)))
        return scopes

    def unread(self) -> list[str]:
        report: dict[str, None] = {}
        for index, segment_id in enumerate(self._ids):
            if segment_id in _NOT_REPORTED:
                continue
            fields = self._fields(index)
            for number in range(1, len(fields)):
                if (segment_id, number, None, None) in self._read:
                    continue
                for rep in fields[number]:
                    self._unread_in(segment_id, number, rep, report)
        return list(report)

    # -- internals ---------------------------------------------------------------------

    def _unread_in(
        self, segment: str, field: int, rep: Repetition, report: dict[str, None]
    ) -> None:
        if len(rep) == 1 and len(rep[0]) == 1:
            value = rep[0][0]
            if not _blank(value) and not self._covered(segment, field, 1, 1):
                report.setdefault(f"{segment}-{field}", None)
            return
        simple = not any(map(_er7, rep[1:]))
        for c_number, component in enumerate(rep, start=1):
            simple_component = len(component) == 1 or not any(component[1:])
            for s_number, sub in enumerate(component, start=1):
                if _blank(sub) or self._covered(segment, field, c_number, s_number):
                    continue
                if simple and simple_component:
                    name = f"{segment}-{field}"
                elif simple_component:
                    name = f"{segment}-{field}.{c_number}"
                else:
                    name = f"{segment}-{field}.{c_number}.{s_number}"
                report.setdefault(name, None)

    def _covered(self, segment: str, field: int, component: int, sub: int) -> bool:
        read = self._read
        return (
            (segment, field, None, None) in read
            or (segment, field, component, None) in read
            or (segment, field, component, sub) in read
        )

    def _value(self, rep: Repetition, component: int | None, sub: int | None) -> str:
        if component is None:
            return _repetition_value(rep)
        if component > len(rep):
            return ""
        if sub is None:
            return _component_value(rep[component - 1])
        subs = rep[component - 1]
        return unescape(subs[sub - 1]) if sub <= len(subs) else ""

    def _header(self, field: int, component: int) -> str:
        reps = self._repetitions(0, field)
        return self._value(reps[0], component, None) if reps else ""

    def _fields(self, segment: int) -> list[Field]:
        fields = self._split[segment]
        if fields is None:
            fields = self._split[segment] = _split_segment(self._lines[segment])
        return fields

    def _repetitions(self, segment: int, field: int) -> Field:
        fields = self._fields(segment)
        return fields[field] if field < len(fields) else []

    def _occurrences(self, segment_id: str) -> list[int]:
        if self._index is None:
            index: dict[str, list[int]] = {}
            for position, found in enumerate(self._ids):
                index.setdefault(found, []).append(position)
            self._index = index
        return self._index.get(segment_id, [])

    def _segment_pin(self, segment_id: str, scope: Scope) -> int | None:
        """The occurrence the innermost binding of this segment (or one of its fields) chose."""
        prefix = segment_id + "-"
        for key, occurrence in reversed(scope.bindings):
            if key == segment_id:
                return int(occurrence)
            if key.startswith(prefix):
                return int(occurrence[0])
        return None

    def _targets(self, segment_id: str, field: int, scope: Scope) -> list[tuple[int, int | None]]:
        """(segment position, repetition or None for all) pairs a path resolves to."""
        pinned = self._segment_pin(segment_id, scope)
        if pinned is None:
            return [(position, None) for position in self._occurrences(segment_id)]
        bound = scope.get(f"{segment_id}-{field}")
        if bound is not None and bound[0] == pinned:
            return [(pinned, int(bound[1]))]
        return [(pinned, None)]


def parse_message(raw: bytes) -> Hl7Record:
    """Check and parse one ER7 message (as cut by ``split_messages``, or as received)."""
    text, encoding = _decode(raw)
    lines = _lines(text)
    if not lines:
        raise SourceError("the message is empty", "", "required")
    _check_header(lines[0])
    _check_segments(lines)
    record = Hl7Record(lines, encoding)
    if not record.message_type:
        raise SourceError("MSH-9 message type is missing", "MSH-9", "required")
    if not record.control_id:
        raise SourceError("MSH-10 message control id is missing", "MSH-10", "required")
    return record


def parse_header(raw: bytes) -> Hl7Record | None:
    """Only the MSH of a message that may be broken, for addressing a reply; else None."""
    try:
        lines = _lines(_decode(raw)[0])
        if not lines:
            return None
        _check_header(lines[0])
    except SourceError:
        return None
    return Hl7Record(lines[:1], "utf-8")


def _decode(raw: bytes) -> tuple[str, str]:
    raw = raw.replace(_BOM, b"")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"the message is neither UTF-8 nor Windows-1252 text "
            f"(byte 0x{raw[exc.start]:02X} at offset {exc.start})",
            "",
            "invalid",
        ) from None


def _lines(text: str) -> list[str]:
    text = text.replace("\x0b", "").replace("\x1c", "")
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    return [line.lstrip(" \t") for line in lines if line.strip()]


def _check_header(first: str) -> None:
    if not first.startswith("MSH"):
        raise SourceError(
            f"no MSH segment: the message starts with {first[:20]!r}", "MSH", "structure"
        )
    if first[3:4] != "|":
        raise SourceError(
            f"MSH-1 field separator is {first[3:4]!r} (expected '|')", "MSH-1", "structure"
        )
    encoding = first[4:].split("|", 1)[0]
    if encoding not in ENCODING_CHARACTERS:
        raise SourceError(
            f"MSH-2 encoding characters are {encoding!r} (expected '^~\\&')", "MSH-2", "structure"
        )


def _check_segments(lines: list[str]) -> None:
    for number, line in enumerate(lines, start=1):
        segment_id = line[:3]
        if not _SEGMENT_ID.match(segment_id) or line[3:4] not in ("|", ""):
            raise SourceError(
                f"segment {number} ({line[:20]!r}) is not a segment: "
                "the message is cut off or corrupted",
                f"segment {number}",
                "structure",
            )
        if number > 1 and segment_id == "MSH":
            raise SourceError(
                f"segment {number} starts another message: split the input first",
                f"segment {number}",
                "structure",
            )
        if len(line) <= 3:
            raise SourceError(
                f"segment {number} ({segment_id}) has no fields: the message is cut off",
                f"segment {number}",
                "structure",
            )
    if len(lines) == 1:
        raise SourceError("the message has only an MSH segment: it is cut off", "", "structure")
