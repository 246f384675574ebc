"""ValueSet.compose evaluated into an expansion, once per ValueSet version, then cached.

An ``Expansion`` holds the concepts in order (for $expand paging) and a dict keyed by
(system, code) so membership in $validate-code is one lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.errors import ResourceNotFound
from app.terminology.codesystems import CodeSystemRegistry, display_key, version_key
from app.terminology.filters import FilterError, select
from app.terminology.service import Designation

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Entry:
    system: str
    version: str | None
    code: str
    display: str | None
    abstract: bool = False
    inactive: bool = False
    designations: tuple[Designation, ...] = ()
    display_keys: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()
    """Lower-cased words of the display, for the $expand text filter."""


Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Expansion:
    entries: tuple[Entry, ...]
    by_key: dict[Key, Entry]
    used: tuple[str, ...]
    """``url|version`` of every CodeSystem the expansion drew on."""
    systems: frozenset[str]


class ComposeError(Exception):
    """The compose cannot be evaluated; ``element`` is a FHIRPath into the ValueSet."""

    def __init__(self, element: str, message: str) -> None:
        super().__init__(message)
        self.element = element
        self.message = message


class ValueSetRegistry:
    def __init__(self) -> None:
        self._versions: dict[str, dict[str | None, dict[str, Any]]] = {}
        self._latest: dict[str, dict[str, Any]] = {}

    def add(self, resource: dict[str, Any]) -> None:
        url, version = resource["url"], resource.get("version")
        self._versions.setdefault(url, {})[version] = resource
        current = self._latest.get(url)
        if current is None or version_key(version) > version_key(current.get("version")):
            self._latest[url] = resource

    def get(self, url: str, version: str | None = None) -> dict[str, Any] | None:
        if version is None and "|" in url:
            url, version = url.split("|", 1)
        if version is None:
            return self._latest.get(url)
        return self._versions.get(url, {}).get(version)

    def all(self) -> list[dict[str, Any]]:
        return [r for versions in self._versions.values() for r in versions.values()]


class Expander:
    def __init__(self, codesystems: CodeSystemRegistry, valuesets: ValueSetRegistry) -> None:
        self.codesystems = codesystems
        self.valuesets = valuesets
        self._cache: dict[str, Expansion] = {}

    def cached(self, url: str) -> Expansion | None:
        """The fast path: a known ``url`` or ``url|version`` already expanded."""
        return self._cache.get(url)

    def expansion_of(self, url: str, version: str | None = None) -> Expansion:
        key = f"{url}|{version}" if version else url
        found = self._cache.get(key)
        if found is not None:
            return found
        resource = self.valuesets.get(url, version)
        if resource is None:
            shown = key if version or "|" in url else url
            raise ResourceNotFound(f"Unknown ValueSet '{shown}'", ("url",))
        expansion = self._expand(resource, ())
        self._cache[key] = expansion
        return expansion

    def expand_resource(self, resource: dict[str, Any]) -> Expansion:
        """An inline ValueSet: evaluated against what we hold, not cached."""
        return self._expand(resource, ())

    def _expand(self, resource: dict[str, Any], stack: tuple[str, ...]) -> Expansion:
        compose = resource.get("compose") or {}
        include_inactive = compose.get("inactive", True) is not False
        used: dict[str, None] = {}
        entries: dict[Key, Entry] = {}
        for i, part in enumerate(compose.get("include", [])):
            path = f"ValueSet.compose.include[{i}]"
            for key, entry in self._part(part, path, stack, used).items():
                if include_inactive or not entry.inactive:
                    entries.setdefault(key, entry)
        for i, part in enumerate(compose.get("exclude", [])):
            path = f"ValueSet.compose.exclude[{i}]"
            for key in self._part(part, path, stack, used):
                entries.pop(key, None)
        return Expansion(
            entries=tuple(entries.values()),
            by_key=entries,
            used=tuple(used),
            systems=frozenset(system for system, _ in entries),
        )

    def _part(
        self, part: dict[str, Any], path: str, stack: tuple[str, ...], used: dict[str, None]
    ) -> dict[Key, Entry]:
        """One include/exclude: its system selection intersected with every imported set."""
        sets: list[dict[Key, Entry]] = []
        if part.get("system"):
            sets.append(self._system_part(part, path, used))
        for j, url in enumerate(part.get("valueSet", [])):
            sets.append(self._import(url, f"{path}.valueSet[{j}]", stack, used))
        first, *rest = sets
        return {k: e for k, e in first.items() if all(k in other for other in rest)}

    def _import(
        self, url: str, path: str, stack: tuple[str, ...], used: dict[str, None]
    ) -> dict[Key, Entry]:
        if url in stack:
            raise ComposeError(path, f"ValueSet import cycle: {' -> '.join((*stack, url))}")
        resource = self.valuesets.get(url)
        if resource is None:
            raise ComposeError(path, f"imports unknown ValueSet '{url}'")
        found = self._cache.get(url)
        if found is None:
            try:
                found = self._expand(resource, (*stack, url))
            except ComposeError as exc:
                message = f"imported ValueSet '{url}' cannot be expanded: {exc.message}"
                raise ComposeError(path, message) from exc
        used.update(dict.fromkeys(found.used))
        return found.by_key

    def _system_part(
        self, part: dict[str, Any], path: str, used: dict[str, None]
    ) -> dict[Key, Entry]:
        system, version = part["system"], part.get("version")
        cs = self.codesystems.get(system, version)
        listed = part.get("concept", [])
        if cs is None:
            if not listed or part.get("filter"):
                held = f"version {version} of {system}" if version else system
                message = f"{held} is not held, so only listed concepts can be included"
                raise ComposeError(f"{path}.system", message)
            return {(system, c["code"]): _listed_entry(system, version, c) for c in listed}
        used[cs.pinned_url] = None
        if listed:
            out: dict[Key, Entry] = {}
            for k, item in enumerate(listed):
                concept = cs.concepts.get(item["code"])
                if concept is None:
                    message = f"'{item['code']}' is not in {cs.pinned_url}"
                    raise ComposeError(f"{path}.concept[{k}].code", message)
                out[(system, concept.code)] = _entry(cs.url, cs.version, concept, item)
            return out
        codes: set[str] | None = None
        for k, flt in enumerate(part.get("filter", [])):
            try:
                chosen = select(cs, flt, f"{path}.filter[{k}]")
            except FilterError as exc:
                raise ComposeError(exc.element, exc.message) from exc
            codes = chosen if codes is None else codes & chosen
        return {
            (system, c.code): _entry(cs.url, cs.version, c, None)
            for c in cs.concepts.values()
            if codes is None or c.code in codes
        }


def _words(*texts: str | None) -> tuple[str, ...]:
    return tuple(w for t in texts if t for w in _WORD.findall(t.casefold()))


def _entry(system: str, version: str | None, concept: Any, item: dict[str, Any] | None) -> Entry:
    """An expansion entry for a held concept; a display given in the compose wins (FHIR)."""
    display = (item or {}).get("display") or concept.display
    keys = concept.display_keys | ({display_key(display)} if display else set())
    return Entry(
        system=system,
        version=version,
        code=concept.code,
        display=display,
        abstract=concept.abstract,
        inactive=concept.inactive,
        designations=concept.designations,
        display_keys=frozenset(keys),
        words=_words(display),
    )


def _listed_entry(system: str, version: str | None, item: dict[str, Any]) -> Entry:
    display = item.get("display")
    designations = tuple(
        Designation(d["value"], d.get("language")) for d in item.get("designation", [])
    )
    keys = {display_key(t) for t in [display or "", *(d.value for d in designations)] if t}
    return Entry(
        system=system,
        version=version,
        code=item["code"],
        display=display,
        designations=designations,
        display_keys=frozenset(keys),
        words=_words(display),
    )
