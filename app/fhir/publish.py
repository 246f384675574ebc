"""Publishing the terminology content into the store, so it reads and searches like any resource.

Through the same write path as ``PUT [type]/[id]`` (structure check, index rows, history), so
``GET /fhir/ValueSet?url=...`` finds what ``$expand`` uses. An update that changes nothing
keeps its version, so publishing at every start-up, from every worker, writes only what the
content files changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from app.errors import FhirError
from app.fhir import writes
from app.fhir.context import FhirContext
from app.fhir.resource_body import check_resource


class PublishError(Exception):
    """A terminology resource the store would not accept (it names the resource)."""


@dataclass(slots=True)
class Published:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _checked(resource: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = f"{resource.get('resourceType')}/{resource.get('id')} ({resource.get('url')})"
    if not isinstance(resource.get("id"), str):
        raise PublishError(f"{name}: a terminology resource needs an id to be published")
    try:
        return name, check_resource(resource)
    except FhirError as exc:
        details = "; ".join(i.diagnostics for i in exc.all_issues())
        raise PublishError(f"{name} is not a valid R4 resource: {details}") from exc


async def publish_terminology(ctx: FhirContext, resources: list[dict[str, Any]]) -> Published:
    """Store each resource under its own id, in one transaction; all or nothing."""
    checked = sorted(
        (_checked(r) for r in resources), key=lambda c: (c[1]["resourceType"], c[1]["id"])
    )
    published = Published()
    async with ctx.store.write() as tx:
        now = ctx.now()
        for name, resource in checked:
            current = await tx.current(resource["resourceType"], resource["id"])
            outcome = await writes.update(tx, resource, resource["id"], now=now)
            if outcome.status == HTTPStatus.CREATED:
                published.created.append(name)
            elif current is not None and outcome.version_id == current.version_id:
                published.unchanged.append(name)
            else:
                published.updated.append(name)
    return published
