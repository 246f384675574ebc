"""Writes under a token: the scope letter, and for a confined token the patient compartment and
the granular scope filters on both sides of the write (what is there now, and what will be).

A resource the token may not touch (outside the compartment, or not matching any filter set of
the letter's scopes) is treated exactly as one that does not exist: update and patch answer
404, delete answers the 204 of deleting nothing (and deletes nothing). Because a confined update
of an id that exists out of reach must look like one of an id that does not, confined or
filtered ``u`` cannot update-as-create (PUT to a new id): that is a 404 as well. New content
outside the compartment or the filters is a 403.

Filters are judged by the search SQL reads use (``visibility.matching``), never by a second
matcher: the stored version before the write, and the new version after it is written (with
its index rows) inside the same transaction, whose rollback then undoes it. Conditional
interactions search, so they need unconfined search rights on the type.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.auth import policy, visibility
from app.auth.policy import Decision
from app.errors import Forbidden, ResourceNotFound
from app.storage.store import StoredVersion, WriteTx


async def _matches(tx: WriteTx, decision: Decision, res_type: str, res_id: str) -> bool:
    """Whether the stored current version matches one filter set (flushing pending writes
    first, so the transaction's own writes are judged as stored)."""
    if not decision.filters:
        return True
    conn = await tx.connection()
    return bool(await visibility.matching(conn, res_type, [res_id], decision.filters))


async def _may_touch(tx: WriteTx, decision: Decision, current: StoredVersion | None) -> bool:
    if current is None or current.deleted or current.content is None:
        return False
    if decision.patient is not None and not policy.in_compartment(
        current.res_type, orjson.loads(current.content), decision.patient
    ):
        return False
    return await _matches(tx, decision, current.res_type, current.res_id)


def _must_stay_in(decision: Decision, res_type: str, resource: dict[str, Any]) -> None:
    if decision.patient is not None and not policy.in_compartment(
        res_type, resource, decision.patient
    ):
        raise Forbidden(
            f"The token is confined to Patient/{decision.patient}; this {res_type} would not "
            "be in that patient's compartment",
            expression=(res_type,),
        )


def check_create(res_type: str, resource: dict[str, Any]) -> Decision:
    """Before a create: the letter and the compartment. The decision's filters are checked
    on the written version (``check_written``)."""
    decision = policy.require(res_type, "c")
    _must_stay_in(decision, res_type, resource)
    return decision


async def check_update(
    tx: WriteTx, res_type: str, res_id: str, current: StoredVersion | None
) -> Decision:
    """Before an update or patch: the current version must be one the token may update (else
    404, as for an unknown id). The new content is then checked with ``check_content``
    before and ``check_written`` after it is written."""
    decision = policy.require(res_type, "u")
    if not decision.open and not await _may_touch(tx, decision, current):
        raise ResourceNotFound(f"{res_type}/{res_id} is not known")
    return decision


def check_content(decision: Decision, res_type: str, resource: dict[str, Any]) -> None:
    """The new content of an update or patch stays in the compartment (else 403)."""
    _must_stay_in(decision, res_type, resource)


async def check_written(
    tx: WriteTx, decision: Decision, res_type: str, res_id: str, letter: str
) -> None:
    """After a create, update or patch is written in ``tx``: the new version must match one
    of the decision's filter sets, else 403 (raised inside the transaction, which rolls the
    write back)."""
    if await _matches(tx, decision, res_type, res_id):
        return
    allowed = " or ".join(
        f"{res_type}?" + "&".join(f"{k}={v}" for k, v in pairs) for pairs in decision.filters
    )
    raise Forbidden(
        f"The token may {policy.LETTER_NAMES[letter]} {res_type} only where it matches "
        f"{allowed}; this {res_type} would not",
        expression=(res_type,),
    )


async def may_delete(tx: WriteTx, res_type: str, current: StoredVersion | None) -> bool:
    """False when the resource must be left alone as if it did not exist."""
    decision = policy.require(res_type, "d")
    return decision.open or await _may_touch(tx, decision, current)


def check_conditional(res_type: str) -> None:
    decision = policy.require(res_type, "s")
    if not decision.open:
        raise Forbidden(
            "Conditional interactions search; the token's search rights on "
            f"{res_type} are confined (to a patient or by scope filters)",
            expression=(res_type,),
        )
