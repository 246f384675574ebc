"""The regional profiles by canonical url: every compiled snapshot under `profiles/build/`.

`ProfileRegistry.from_directory` compiles each `StructureDefinition-*.json` once
(`profile_compile.py`), then links what spans files: a profile's extension slices to the
compiled extension definitions (`Extension-MV-*`), and reference targets naming one of our
profiles to that profile's resource type. A broken file stops loading with a
`ProfileLoadError` naming the file and element.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from app.validation.profile_compile import compile_profile, load_profile, resource_of
from app.validation.profile_model import (
    HL7_SD,
    CompiledProfile,
    Discriminator,
    Node,
    ProfileLoadError,
    Slice,
)

__all__ = [
    "HL7_SD",
    "CompiledProfile",
    "Discriminator",
    "Node",
    "ProfileLoadError",
    "ProfileRegistry",
    "Slice",
    "compile_profile",
    "load_profile",
]


class ProfileRegistry:
    """Every compiled profile and extension definition, by canonical url (and version)."""

    def __init__(self, profiles: Iterable[CompiledProfile] = ()) -> None:
        self._by_url: dict[str, dict[str | None, CompiledProfile]] = {}
        self._latest: dict[str, CompiledProfile] = {}
        for profile in profiles:
            self._add(profile)
        self._link()

    @classmethod
    def from_directory(cls, path: Path) -> ProfileRegistry:
        """Loads every `StructureDefinition-*.json`; raises `ProfileLoadError` on a bad one."""
        compiled = [load_profile(f) for f in sorted(path.glob("StructureDefinition-*.json"))]
        return cls(compiled)

    def _add(self, profile: CompiledProfile) -> None:
        versions = self._by_url.setdefault(profile.url, {})
        if profile.version in versions:
            raise ProfileLoadError(profile.file, None, f"duplicate profile {profile.url}")
        versions[profile.version] = profile
        current = self._latest.get(profile.url)
        if current is None or _version_key(profile.version) > _version_key(current.version):
            self._latest[profile.url] = profile

    def _link(self) -> None:
        """Resolve extension roots and our target profiles now that every file is in."""
        every = [p for versions in self._by_url.values() for p in versions.values()]
        for profile in every:
            for node in _walk(profile.root):
                if node.ext_profile is not None:
                    ext = self._latest.get(node.ext_profile)
                    node.ext_root = ext.root if ext is not None else None
                if node.target_profiles:
                    node.targets = self._targets(node.target_profiles)

    def _targets(self, profiles: tuple[str, ...]) -> frozenset[str] | None:
        types: set[str] = set()
        for url in profiles:
            ours = self._latest.get(url)
            resource_type = ours.type if ours is not None else resource_of(url)
            if resource_type is None or resource_type == "Resource":
                return None  # a target we cannot name: accept any type
            types.add(resource_type)
        return frozenset(types)

    def get(self, url: str) -> CompiledProfile | None:
        """`url` or `url|version`."""
        if "|" in url:
            base, version = url.split("|", 1)
            return self._by_url.get(base, {}).get(version)
        return self._latest.get(url)

    def urls(self) -> list[str]:
        return sorted(self._latest)

    def all(self) -> list[CompiledProfile]:
        return [self._latest[u] for u in sorted(self._latest)]


def _version_key(version: str | None) -> tuple[tuple[int, int | str], ...]:
    """`1.10.0` after `1.9.0`: numeric parts compare as numbers, others as text after them."""
    parts = (version or "").replace("-", ".").split(".")
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def _walk(node: Node) -> Iterable[Node]:
    yield node
    for child in node.children.values():
        yield from _walk(child)
    for sl in node.slices:
        yield from _walk(sl.node)
