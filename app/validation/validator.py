"""The validator every caller uses: structure, base R4 rules, then each applicable profile.

Order matters: the structural walk runs first and, if it finds an error, is the whole answer,
because the later layers assume a well-formed resource (a list where a list belongs, known
element names). Then the base R4 rules every resource must meet (`base_rules.py`), then each
profile the resource claims in `meta.profile` and each the caller asks for.

A profile url the resource claims but we do not hold is a warning (the claim is not checked,
as the HL7 Java validator does); one the caller asks for explicitly is a 404, because the
caller cannot get the answer they asked for. A profile of another resource type, or an
extension definition, is a 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from app.errors import InvalidRequest, Issue, ResourceNotFound
from app.terminology.service import TerminologyService
from app.validation.base_rules import base_issues
from app.validation.profile_check import check_profile
from app.validation.profiles import HL7_SD, CompiledProfile, ProfileRegistry
from app.validation.structural import structure_and_nodes

__all__ = ["MODES", "Validator"]

MODES: Final = ("create", "update", "delete")


def _is_core(url: str, resource_type: str) -> bool:
    return url.split("|", 1)[0] == HL7_SD + resource_type


class Validator:
    def __init__(self, registry: ProfileRegistry, terminology: TerminologyService) -> None:
        self.registry = registry
        self.terminology = terminology

    def resolve(self, url: str, resource_type: str | None) -> CompiledProfile | None:
        """The profile the caller asked for; 404 if unknown, 400 if it does not fit. None for
        the core definition of the resource's own type: the base rules already cover it."""
        profile = self.registry.get(url)
        if profile is None and resource_type and _is_core(url, resource_type):
            return None
        if profile is None:
            raise ResourceNotFound(
                f"Profile '{url}' is not known here; known profiles: "
                + (", ".join(self.registry.urls()) or "none"),
                ("profile",),
            )
        if profile.kind != "resource" or profile.type == "Extension":
            raise InvalidRequest(
                f"'{url}' is a {profile.type} definition, not a profile of a resource",
                ("profile",),
            )
        if resource_type is not None and profile.type != resource_type:
            raise InvalidRequest(
                f"Profile '{url}' constrains {profile.type}; it cannot validate a {resource_type}",
                ("profile",),
            )
        return profile

    async def validate(
        self, resource: dict[str, Any], *, profiles: Sequence[str] = (), mode: str = "create"
    ) -> list[Issue]:
        """Every issue with `resource`, most basic first; no `error` means it conforms."""
        if mode not in MODES:
            raise InvalidRequest(
                f"Unknown validation mode '{mode}' (use create, update or delete)", ("mode",)
            )
        if mode == "delete":
            return []  # nothing in the content stops a delete; the HTTP layer checks existence
        resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
        known_type = resource_type if isinstance(resource_type, str) else None
        resolved = [self.resolve(url, known_type) for url in dict.fromkeys(profiles)]
        wanted = [p for p in resolved if p is not None]
        issues, walked = structure_and_nodes(resource)
        if any(i.severity in ("error", "fatal") for i in issues):
            return issues
        issues.extend(base_issues(resource, walked))
        issues.extend(await self._profiles(resource, resource["resourceType"], wanted))
        if resource["resourceType"] == "Bundle":
            for index, entry in enumerate(resource.get("entry") or ()):
                inner = entry.get("resource")
                if isinstance(inner, dict) and inner.get("meta", {}).get("profile"):
                    rid = inner.get("id") if isinstance(inner.get("id"), str) else "null"
                    path = f"Bundle.entry[{index}].resource/*{inner['resourceType']}/{rid}*/"
                    issues.extend(await self._profiles(inner, path, []))
        return issues

    async def _profiles(
        self, resource: dict[str, Any], path: str, wanted: list[CompiledProfile]
    ) -> list[Issue]:
        """The profile issues of one resource (the validated one, or a Bundle entry's)."""
        claimed, issues = self._claimed(resource, path)
        seen: set[int] = set()
        for profile in [*wanted, *claimed]:
            if id(profile) in seen:
                continue
            seen.add(id(profile))
            issues.extend(await check_profile(profile, resource, self.terminology, path))
        return issues

    def _claimed(
        self, resource: dict[str, Any], path: str
    ) -> tuple[list[CompiledProfile], list[Issue]]:
        """The profiles of `meta.profile` we hold; a warning or error for the others."""
        meta = resource.get("meta")
        urls = meta.get("profile") if isinstance(meta, dict) else None
        found: list[CompiledProfile] = []
        issues: list[Issue] = []
        resource_type = resource["resourceType"]
        for index, url in enumerate(urls or ()):
            profile = self.registry.get(url)
            if profile is not None and profile.type == resource_type and profile.kind == "resource":
                found.append(profile)
                continue
            if profile is None and _is_core(url, resource_type):
                continue  # the core definition of its own type: what the base rules check
            where = f"{path}.meta.profile[{index}]"
            if profile is None:
                text = f"{where}: profile '{url}' is not known here; not checked"
                issues.append(Issue("warning", "not-found", text, (where,)))
            else:
                text = f"{where}: '{url}' is a profile of {profile.type}, not {resource_type}"
                issues.append(Issue("error", "invalid", text, (where,)))
        return found, issues
