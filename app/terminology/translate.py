"""ConceptMap/$translate over explicit maps only: an unmapped code is ``result=false``.

Maps are indexed by (system, code) in both directions at load; the answers to repeated
code+system requests are memoised because they cannot change while the content is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from app.errors import InvalidRequest, ResourceNotFound
from app.terminology.codesystems import CodeSystemRegistry
from app.terminology.service import (
    Coding,
    Equivalence,
    TranslateMatch,
    TranslateRequest,
    TranslateResult,
)

_NO_CONCEPT = frozenset({"unmatched", "disjoint"})
_REVERSED = {"wider": "narrower", "narrower": "wider", "subsumes": "specializes"}
_REVERSED["specializes"] = "subsumes"
_MEMO_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class _Row:
    map_url: str
    map_source: str | None
    map_target: str | None
    source: Coding
    target: Coding | None
    equivalence: Equivalence
    comment: str | None


def _scope(cm: dict[str, Any], side: str) -> str | None:
    return cast(str | None, cm.get(f"{side}Canonical") or cm.get(f"{side}Uri"))


class ConceptMapIndex:
    def __init__(self, codesystems: CodeSystemRegistry | None = None) -> None:
        self._codesystems = codesystems or CodeSystemRegistry()
        self._maps: dict[str, dict[str, Any]] = {}
        self._forward: dict[tuple[str, str], list[_Row]] = {}
        self._reverse: dict[tuple[str, str], list[_Row]] = {}
        self._sources: set[str] = set()
        self._targets: set[str] = set()
        self._memo: dict[tuple[Any, ...], TranslateResult] = {}

    def add(self, cm: dict[str, Any]) -> None:
        url = cm["url"]
        self._maps[url] = cm
        if cm.get("version"):
            self._maps[f"{url}|{cm['version']}"] = cm
        source_scope, target_scope = _scope(cm, "source"), _scope(cm, "target")
        for group in cm.get("group", []):
            self._sources.add(group["source"])
            self._targets.add(group["target"])
            for element in group.get("element", []):
                source = Coding(
                    group["source"],
                    element["code"],
                    element.get("display"),
                    group.get("sourceVersion"),
                )
                for target in element.get("target", []):
                    coding = None
                    if target.get("code"):
                        coding = Coding(
                            group["target"],
                            target["code"],
                            target.get("display") or self._display(group, target["code"]),
                            group.get("targetVersion"),
                        )
                    row = _Row(
                        url,
                        source_scope,
                        target_scope,
                        source,
                        coding,
                        target["equivalence"],
                        target.get("comment"),
                    )
                    self._forward.setdefault((source.system, source.code), []).append(row)
                    if coding is not None:
                        self._reverse.setdefault((coding.system, coding.code), []).append(row)

    def _display(self, group: dict[str, Any], code: str) -> str | None:
        """Maps rarely repeat displays; the held target system supplies them."""
        cs = self._codesystems.get(group["target"], group.get("targetVersion"))
        concept = cs.concepts.get(code) if cs else None
        return concept.display if concept else None

    def knows(self, url: str) -> bool:
        return url in self._maps

    def resources(self) -> list[dict[str, Any]]:
        return list({id(m): m for m in self._maps.values()}.values())

    def translate(self, request: TranslateRequest) -> TranslateResult:
        codings = _codings(request)
        key = None
        if request.code is not None and request.concept_map is None:
            key = (request.code, request.system, request.url, request.source, request.target,
                   request.target_system, request.reverse)  # fmt: skip
            found = self._memo.get(key)
            if found is not None:
                return found
        result = self._translate(codings, request)
        if key is not None:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = result
        return result

    def _translate(self, codings: list[Coding], request: TranslateRequest) -> TranslateResult:
        url = request.url.split("|", 1)[0] if request.url else None
        if request.url and request.url not in self._maps:
            raise ResourceNotFound(f"Unknown ConceptMap '{request.url}'", ("url",))
        known = self._targets if request.reverse else self._sources
        if url is None and not any(c.system in known for c in codings):
            side = "to" if request.reverse else "from"
            systems = ", ".join(sorted({c.system for c in codings}))
            raise ResourceNotFound(f"No ConceptMap maps {side} {systems}", ("system",))
        index = self._reverse if request.reverse else self._forward
        matches: list[TranslateMatch] = []
        for coding in codings:
            for row in index.get((coding.system, coding.code), ()):
                if _wanted(row, url, request):
                    matches.append(_match(row, request.reverse))
        ok = any(m.concept is not None and m.equivalence not in _NO_CONCEPT for m in matches)
        if ok:
            return TranslateResult(True, matches=tuple(matches))
        return TranslateResult(False, _why(codings, matches, url, request), tuple(matches))


def _codings(request: TranslateRequest) -> list[Coding]:
    if request.code is not None:
        if not request.system:
            raise InvalidRequest("A system is required with code", ("system",))
        return [Coding(request.system, request.code, version=request.version)]
    if request.coding is not None:
        return [request.coding]
    if request.codeable_concept:
        return list(request.codeable_concept)
    raise InvalidRequest(
        "One of code (with system), coding or codeableConcept is required", ("code",)
    )


def _wanted(row: _Row, url: str | None, request: TranslateRequest) -> bool:
    if url is not None and row.map_url != url:
        return False
    if request.reverse:
        return (
            (request.source is None or row.map_target == request.source)
            and (request.target is None or row.map_source == request.target)
            and (request.target_system is None or row.source.system == request.target_system)
        )
    if request.source is not None and row.map_source != request.source:
        return False
    if request.target is not None and row.map_target != request.target:
        return False
    target_system = row.target.system if row.target else None
    return request.target_system is None or target_system in (None, request.target_system)


def _match(row: _Row, reverse: bool) -> TranslateMatch:
    if not reverse:
        return TranslateMatch(row.equivalence, row.target, row.map_url, row.comment)
    equivalence = cast(Equivalence, _REVERSED.get(row.equivalence, row.equivalence))
    return TranslateMatch(equivalence, row.source, row.map_url, row.comment)


def _why(
    codings: list[Coding], matches: list[TranslateMatch], url: str | None, request: TranslateRequest
) -> str:
    shown = ", ".join(f"'{c.code}' from {c.system}" for c in codings)
    where = f"ConceptMap {url}" if url else "any ConceptMap"
    if request.target_system:
        where += f" to {request.target_system}"
    if matches:
        return f"{shown} is explicitly unmatched in {where}"
    return f"No mapping for {shown} in {where}"
