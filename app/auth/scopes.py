"""SMART on FHIR scopes, v1 and v2 (App Launch 2.2, scopes-and-launch-context): parsing and
the questions enforcement asks of them. Pure: no I/O.

v2 resource scopes are ``(patient|user|system)/(Type|*).[c][r][u][d][s][?param=value&...]``;
v1 ``.read``, ``.write`` and ``.*`` map to ``rs``, ``cud`` and ``cruds``. Letters out of the
spec's order (``.dus``) or unknown suffixes are not guessed at: the scope grants nothing and
is reported as unrecognised. Scopes may be sent as URIs with the
``http://smarthealthit.org/fhir/scopes/`` prefix; duplicates are tolerated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qsl

LEVELS = ("patient", "user", "system")
LETTERS = "cruds"
URI_PREFIX = "http://smarthealthit.org/fhir/scopes/"
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([a-z*]+)(?:\?(.+))?$")
_ORDERED = re.compile(r"^c?r?u?d?s?$")
EXPLICIT_ONLY = frozenset({"AuditEvent"})
"""Types a wildcard (``*``) scope does not cover: the audit trail is read only by clients
granted it by name (``system/AuditEvent.rs``)."""


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """One resource scope: who (level), which type (None: every type), which interactions,
    and, for granular scopes, the search parameters a resource must match."""

    level: str
    res_type: str | None
    letters: frozenset[str]
    filters: tuple[tuple[str, str], ...]
    text: str
    v1: bool = False

    def covers(self, res_type: str, letter: str) -> bool:
        if letter not in self.letters:
            return False
        if self.res_type is None:
            return res_type not in EXPLICIT_ONLY
        return self.res_type == res_type

    def within(self, other: ScopeRule) -> bool:
        """Whether everything this rule grants is also granted by ``other``."""
        return (
            self.level == other.level
            and other.res_type in (None, self.res_type)
            and self.letters <= other.letters
            and set(other.filters) <= set(self.filters)
        )


def parse_rule(text: str) -> ScopeRule | None:
    """A resource scope, or None when ``text`` is not one (``launch``, ``openid``, a typo)."""
    body = text.removeprefix(URI_PREFIX)
    match = _SCOPE.match(body)
    if match is None:
        return None
    level, res_type, suffix, query = match.groups()
    v1 = suffix in _V1
    letters = _V1.get(suffix, suffix)
    if not letters or not _ORDERED.match(letters):
        return None
    filters: tuple[tuple[str, str], ...] = ()
    if query:
        if v1:
            return None  # query parameters are v2 only
        filters = tuple(parse_qsl(query, keep_blank_values=False, strict_parsing=False))
        if not filters:
            return None
    return ScopeRule(
        level=level,
        res_type=None if res_type == "*" else res_type,
        letters=frozenset(letters),
        filters=filters,
        text=body,
        v1=v1,
    )


@dataclass(frozen=True, slots=True)
class Grants:
    """The scopes of one token, ready for enforcement."""

    rules: tuple[ScopeRule, ...]
    other: frozenset[str]
    """Non-resource scopes: ``launch``, ``launch/patient``, ``openid``, ``fhirUser``,
    ``offline_access``, ``online_access`` (and anything unrecognised, kept for echoing)."""
    key: str = field(default="", compare=False)
    """The scope string these grants were parsed from: a cheap key for caching decisions
    (empty for grants built otherwise; ``text`` stands in)."""

    @classmethod
    def parse(cls, scope: str) -> Grants:
        return _parse(" ".join(scope.split()))

    @property
    def text(self) -> str:
        return " ".join([*(r.text for r in self.rules), *sorted(self.other)])

    @property
    def levels(self) -> frozenset[str]:
        return frozenset(r.level for r in self.rules)

    def rules_for(self, res_type: str, letter: str) -> tuple[ScopeRule, ...]:
        return tuple(r for r in self.rules if r.covers(res_type, letter))

    def allows(self, res_type: str, letter: str) -> bool:
        return any(r.covers(res_type, letter) for r in self.rules)

    def filters_for(self, res_type: str, letter: str) -> tuple[tuple[tuple[str, str], ...], ...]:
        """The granular filters that apply: empty tuple when some covering rule has none
        (the type is open), else one filter set per covering rule (a resource must match
        at least one set). Callers check ``allows`` first."""
        found = []
        for rule in self.rules_for(res_type, letter):
            if not rule.filters:
                return ()
            found.append(rule.filters)
        return tuple(found)

    def narrowed(self, requested: Grants) -> Grants:
        """What of ``requested`` these grants cover: a refresh with a narrower scope, or a
        client asking for less than it is registered for. Non-resource scopes must be held."""
        rules = tuple(r for r in requested.rules if any(r.within(mine) for mine in self.rules))
        return Grants(rules, requested.other & self.other)


@lru_cache(maxsize=4096)
def _parse(scope: str) -> Grants:
    rules: list[ScopeRule] = []
    other: set[str] = set()
    seen: set[str] = set()
    for token in scope.split(" "):
        if not token or token in seen:
            continue
        seen.add(token)
        rule = parse_rule(token)
        if rule is not None:
            rules.append(rule)
        elif "/" in token.removeprefix(URI_PREFIX) and token.split("/")[0] in LEVELS:
            continue  # a malformed resource scope grants nothing (never guessed at)
        else:
            other.add(token.removeprefix(URI_PREFIX))
    return Grants(tuple(rules), frozenset(other), key=scope)


def unrecognised(scope: str) -> list[str]:
    """Resource-looking scopes that were not understood (``patient/Observation.dus``)."""
    bad = []
    for token in scope.split():
        body = token.removeprefix(URI_PREFIX)
        if body.split("/")[0] in LEVELS and parse_rule(token) is None:
            bad.append(token)
    return bad
