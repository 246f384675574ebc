"""References from a document's Composition resolve inside the document Bundle.

R4 Composition (definition): "the Composition must be the first entry in a Bundle where
Bundle.type=document, and any other resources referenced from Composition must be included
as subsequent entries in the Bundle". A reference is resolved as bundle.html "Resolving
references in Bundles" says: an absolute reference matches an entry's ``fullUrl``; a
relative one (``Patient/p1``) is made absolute against the base of the Composition's RESTful
``fullUrl`` (or, when it has none, matches an entry of that type and id); a version-specific
reference (``.../_history/2``) drops the version to match the ``fullUrl`` and then matches
the version against ``meta.versionId``.

Local references (``#id``), logical references (identifier only) and references to entries
whose versions are not stated (no ``meta.versionId``) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from app.errors import Issue
from app.validation.walk import Node, nodes

__all__ = ["document_reference_issues"]

_HISTORY: Final = re.compile(r"^(?P<url>.*?)/_history/(?P<version>[^/]+)$")
_RESTFUL: Final = re.compile(
    r"^(?P<base>.*/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})$"
)
_ABSOLUTE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _entries(bundle: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    """(fullUrl, resource) of each entry with a resource."""
    entries = bundle.get("entry")
    if type(entries) is not list:
        return []
    return [
        (e.get("fullUrl"), e["resource"])
        for e in entries
        if type(e) is dict and type(e.get("resource")) is dict
    ]


def _version(resource: dict[str, Any]) -> Any:
    meta = resource.get("meta")
    return meta.get("versionId") if type(meta) is dict else None


def _unresolved(
    reference: str, base: str | None, entries: list[tuple[Any, dict[str, Any]]]
) -> str | None:
    """Why ``reference`` resolves to no entry (None if it resolves or cannot be judged)."""
    target, version = reference, None
    if (versioned := _HISTORY.match(reference)) is not None:
        target, version = versioned["url"], versioned["version"]
    if _ABSOLUTE.match(target):
        matches = [r for url, r in entries if url == target]
    else:
        restful = _RESTFUL.match(target)
        if restful is None or restful["base"]:
            return None  # not a plain relative Type/id reference: leave it alone
        if base is not None:
            matches = [r for url, r in entries if url == base + target]
        else:
            matches = [
                r for _, r in entries
                if (r.get("resourceType"), r.get("id")) == (restful["type"], restful["id"])
            ]  # fmt: skip
    if not matches:
        return f"'{reference}' is not found in the document Bundle"
    versions = [_version(r) for r in matches]
    if version is not None and None not in versions and version not in versions:
        found = ", ".join(sorted(str(v) for v in versions))
        held = f"the Bundle holds only version(s) {found} of this resource"
        return f"'{reference}': {held}, not {version}"
    return None


def document_reference_issues(node: Node) -> Iterator[Issue]:
    """For a document Bundle node: each reference of its Composition that no entry
    resolves."""
    bundle = node.obj
    if bundle.get("type") != "document":
        return
    entries = _entries(bundle)
    if not entries or entries[0][1].get("resourceType") != "Composition":
        return  # bdl-11 reports a document without a Composition first
    full_url, composition = entries[0]
    restful = _RESTFUL.match(full_url) if type(full_url) is str else None
    base = restful["base"] if restful is not None and restful["base"] else None
    rid = composition.get("id")
    prefix = f"{node.path}.entry[0].resource/*Composition/{rid if type(rid) is str else 'null'}*/"
    for inner in nodes(composition):
        if inner.typedef.name != "Reference" or inner.resource is not composition:
            continue
        reference = inner.obj.get("reference")
        if type(reference) is not str or reference.startswith("#"):
            continue
        problem = _unresolved(reference, base, entries)
        if problem is not None:
            where = prefix + inner.path.removeprefix("Composition")
            text = f"{where}: {problem} (a document includes what its Composition references)"
            yield Issue("error", "not-found", text, (where,))
