"""Writes under a token: the scope letter, and for a confined token the patient compartment on
both sides of the write (what is there now, and what will be there).

A resource outside the compartment is treated exactly as one that does not exist: update and
patch answer 404, delete answers the 204 of deleting nothing (and deletes nothing). Because a
confined update of an id that exists elsewhere must look like one of an id that does not,
confined tokens cannot update-as-create (PUT to a new id): that is a 404 as well. Conditional
interactions search, so they need unconfined search rights on the type.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.auth import policy
from app.auth.policy import Decision
from app.errors import Forbidden, ResourceNotFound
from app.storage.store import StoredVersion


def _visible(decision: Decision, current: StoredVersion | None) -> bool:
    if current is None or current.deleted or current.content is None:
        return False
    assert decision.patient is not None
    return policy.in_compartment(current.res_type, orjson.loads(current.content), decision.patient)


def _must_stay_in(decision: Decision, res_type: str, resource: dict[str, Any]) -> None:
    assert decision.patient is not None
    if not policy.in_compartment(res_type, resource, decision.patient):
        raise Forbidden(
            f"The token is confined to Patient/{decision.patient}; this {res_type} would not "
            "be in that patient's compartment",
            expression=(res_type,),
        )


def check_create(res_type: str, resource: dict[str, Any]) -> None:
    decision = policy.require(res_type, "c")
    if decision.patient is not None:
        _must_stay_in(decision, res_type, resource)


def check_update(
    res_type: str, res_id: str, current: StoredVersion | None, resource: dict[str, Any] | None
) -> None:
    """Update and patch (``resource`` None: checked again once the patch is applied)."""
    decision = policy.require(res_type, "u")
    if decision.patient is None:
        return
    if not _visible(decision, current):
        raise ResourceNotFound(f"{res_type}/{res_id} is not known")
    if resource is not None:
        _must_stay_in(decision, res_type, resource)


def may_delete(res_type: str, current: StoredVersion | None) -> bool:
    """False when the resource must be left alone as if it did not exist."""
    decision = policy.require(res_type, "d")
    return decision.patient is None or _visible(decision, current)


def check_conditional(res_type: str) -> None:
    decision = policy.require(res_type, "s")
    if not decision.open:
        raise Forbidden(
            "Conditional interactions search; the token's search rights on "
            f"{res_type} are confined (to a patient or by scope filters)",
            expression=(res_type,),
        )
