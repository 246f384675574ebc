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
from collections.abc import Callable, Sequence
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
_NO_TARGETS: list[tuple[int, int | None]] = []
_NONE_READ: frozenset[tuple[int, int | None]] = frozenset()
_UNREAD_NAMES: dict[tuple[str, int, str, frozenset[tuple[int, int | None]]], tuple[str, ...]] = {}
"""(segment, field, its text, positions read in it) -> the unread parts it reports."""

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


def _plain(text: str) -> bool:
    """No repetitions, components or subcomponents: most fields (empty or one value)."""
    return "^" not in text and "~" not in text and "&" not in text


def _split_field(text: str) -> Field:
    if _plain(text):
        return [[[text]]]
    return [[component.split("&") for component in rep.split("^")] for rep in text.split("~")]


def _field_texts(line: str) -> list[str]:
    """Index n is field n's ER7 text; for MSH that needs MSH-1 (the ``|`` itself) put back."""
    texts = line.split("|")
    if texts[0] == "MSH":
        texts.insert(1, "|")
    return texts


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
        # Fields are cut into their ER7 texts per segment on first use, and a text into
        # repetitions/components/subcomponents only when it has them and is read.
        self._texts: list[list[str] | None] = [None] * len(lines)
        self._split: dict[tuple[int, int], Field] = {}
        self._ids = [line[:3] for line in lines]
        self._index: dict[str, list[int]] = {}
        """Segment id -> its positions."""
        self._all: dict[str, list[tuple[int, int | None]]] = {}
        """Segment id -> (position, None): every repetition of every occurrence."""
        for position, segment_id in enumerate(self._ids):
            self._index.setdefault(segment_id, []).append(position)
            self._all.setdefault(segment_id, []).append((position, None))
        self._read: set[tuple[str, int | None, int | None, int | None]] = set()
        self._values: dict[tuple[str, tuple[tuple[str, Any], ...]], list[str]] = {}
        self._each: dict[tuple[str, tuple[tuple[str, Any], ...]], list[Scope]] = {}
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
        # A message is read by many rules through the same paths (the patient's identifiers
        # for its key, its template and every reference to it): each is read once.
        bindings = scope.bindings
        key = (path, bindings)
        found = self._values.get(key)
        if found is not None:
            return found
        where = parse_path(path)
        segment_id, field, component, sub = where
        if field is None:
            raise ValueError(f"{path!r} names a segment; read one of its fields ({path}-1)")
        self._read.add(where)  # a NamedTuple: equal to the plain tuples looked up later
        found = []
        targets = (
            self._targets(segment_id, field, scope)
            if bindings
            else self._all.get(segment_id, _NO_TARGETS)
        )
        for segment, rep_index in targets:
            texts = self._texts[segment] or self._texts_of(segment)
            if field >= len(texts):
                continue
            text = texts[field]
            if not text:
                continue  # an empty field has no value at any component
            if "^" not in text and "~" not in text and "&" not in text:
                # A plain field: only its first repetition, component and subcomponent exist.
                if (
                    (component is None or component == 1)
                    and (sub is None or sub == 1)
                    and (rep_index is None or rep_index == 0)
                ):
                    value = unescape(text) if "\\" in text else text
                    if value and value != _NULL:
                        found.append(value)
                continue
            reps = self._split.get((segment, field)) or self._repetitions(segment, field)
            chosen = reps if rep_index is None else reps[rep_index : rep_index + 1]
            for rep in chosen:
                if component is not None and sub is None and component <= len(rep):
                    subs = rep[component - 1]  # _value(), inline for the common case
                    value = unescape(subs[0]) if len(subs) == 1 else _component_value(subs)
                else:
                    value = self._value(rep, component, sub)
                if value and value != _NULL:
                    found.append(value)
        self._values[key] = found
        return found

    def items(self, path: str, scope: Scope = ROOT) -> list[Any]:
        return list(self.values(path, scope))

    def each(self, path: str, scope: Scope = ROOT) -> Sequence[Scope]:
        key = (path, scope.bindings)
        found = self._each.get(key)
        if found is None:
            found = self._each[key] = self._scopes(path, scope)
        return found

    def _scopes(self, path: str, scope: Scope) -> list[Scope]:
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

    def unread(self, ignored: Callable[[str], bool] | None = None) -> list[str]:
        report: dict[str, None] = {}
        read = self._read
        parts: dict[tuple[str, int], frozenset[tuple[int, int | None]]] | None = None
        for index, segment_id in enumerate(self._ids):
            if segment_id in _NOT_REPORTED or (ignored is not None and ignored(segment_id)):
                continue
            texts = self._texts_of(index)
            for number in range(1, len(texts)):
                text = texts[number]
                if not text or text == _NULL or (segment_id, number, None, None) in read:
                    continue
                if ignored is not None and ignored(f"{segment_id}-{number}"):
                    continue  # and so is everything in it
                if "^" not in text and "~" not in text and "&" not in text:
                    # One repetition of one component of one subcomponent.
                    first = (segment_id, number, 1, None) in read
                    if not first and (segment_id, number, 1, 1) not in read:
                        report.setdefault(f"{segment_id}-{number}", None)
                    continue
                if parts is None:
                    parts = self._parts_read()
                for name in self._unread_names(
                    segment_id, number, text, parts.get((segment_id, number), _NONE_READ)
                ):
                    report.setdefault(name, None)
        return list(report)

    def _parts_read(self) -> dict[tuple[str, int], frozenset[tuple[int, int | None]]]:
        """(segment, field) -> the (component, subcomponent) positions read in it."""
        found: dict[tuple[str, int], set[tuple[int, int | None]]] = {}
        for segment_id, field, component, sub in self._read:
            if field is not None and component is not None:
                found.setdefault((segment_id, field), set()).add((component, sub))
        return {key: frozenset(positions) for key, positions in found.items()}

    def _unread_names(
        self, segment: str, field: int, text: str, parts: frozenset[tuple[int, int | None]]
    ) -> tuple[str, ...]:
        """What ``_unread_in`` reports for a field with parts, which depends on its text and
        the positions read in it alone: cached, as a feed repeats a patient's name and
        address, a status or a code in message after message."""
        key = (segment, field, text, parts)
        names = _UNREAD_NAMES.get(key)
        if names is None:
            found: dict[str, None] = {}
            for rep in text.split("~"):
                self._unread_in(segment, field, rep, found)
            names = tuple(found)
            if len(_UNREAD_NAMES) >= 65536:
                _UNREAD_NAMES.clear()
            _UNREAD_NAMES[key] = names
        return names

    # -- internals ---------------------------------------------------------------------

    def _unread_in(self, segment: str, field: int, rep: str, report: dict[str, None]) -> None:
        """Report the parts of one repetition (its ER7 text) no read covered; the caller has
        checked that the field as a whole was not read. Works on the text, without splitting
        the field into lists: most of a message is only ever looked at here."""
        read = self._read
        if "^" not in rep and "&" not in rep:  # one component of one subcomponent
            if not _blank(rep) and not self._covered(segment, field, 1, 1):
                report.setdefault(f"{segment}-{field}", None)
            return
        components = rep.split("^")
        simple: bool | None = None  # worked out only when something is unread
        for c_number, component in enumerate(components, start=1):
            if (segment, field, c_number, None) in read:
                continue  # the whole component was read
            subs = component.split("&") if "&" in component else (component,)
            for s_number, sub in enumerate(subs, start=1):
                if not sub or sub == _NULL or (segment, field, c_number, s_number) in read:
                    continue
                if simple is None:
                    simple = not any(components[1:])  # a component's ER7 text is its own
                simple_component = len(subs) == 1 or not any(subs[1:])
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

    def _texts_of(self, segment: int) -> list[str]:
        texts = self._texts[segment]
        if texts is None:
            texts = self._texts[segment] = _field_texts(self._lines[segment])
        return texts

    def _repetitions(self, segment: int, field: int) -> Field:
        found = self._split.get((segment, field))
        if found is None:
            texts = self._texts_of(segment)
            if field >= len(texts):
                found = []
            elif field == 0 or (field <= 2 and texts[0] == "MSH"):
                found = [[[texts[field]]]]  # the segment id, MSH-1 and MSH-2 are not split
            else:
                found = _split_field(texts[field])
            self._split[(segment, field)] = found
        return found

    def _occurrences(self, segment_id: str) -> list[int]:
        return self._index.get(segment_id, [])

    def _unpinned(self, segment_id: str) -> list[tuple[int, int | None]]:
        return self._all.get(segment_id, _NO_TARGETS)

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
            return self._unpinned(segment_id)
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
