"""The relational schema: resources, their versions, and one index table per search type.

This metadata is the reference for the Alembic migrations (a test checks they agree); the
running service never calls ``create_all``.

Design notes (see docs/adr/0003-storage-design.md):
- ``resource`` holds the current version's canonical JSON bytes, served byte for byte.
- ``resource_version`` holds every version ever written, including deletes; ``seq`` gives
  history a total order for keyset paging.
- Index rows are keyed by (res_type, res_id) and rewritten with the resource in one
  transaction. ``grp`` ties together the components of a composite parameter taken from the
  same element (e.g. an Observation.component's code and value).
- Times are microseconds since the Unix epoch (UTC), date ranges as inclusive [low, high].
- Every value index holds ``res_id`` (migration 0003), so a search reads the matching
  resource ids from the index alone (an index-only scan) and fetches only one page of rows.
- ``search_date.span`` is ``high - low`` (NULL for an open-ended range): the widest span of a
  parameter, one index probe away, bounds how far before a search range a matching ``low``
  can lie, which turns a date-range search into one index range (app/search/date_bounds.py).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

resource = sa.Table(
    "resource",
    metadata,
    sa.Column("res_type", sa.Text, primary_key=True),
    sa.Column("res_id", sa.Text, primary_key=True),
    sa.Column("version_id", sa.Integer, nullable=False),
    sa.Column("last_updated", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=True),
    sa.Column("centre", sa.Text, nullable=True),
    sa.Index("ix_resource_type_updated", "res_type", "last_updated"),
)

resource_version = sa.Table(
    "resource_version",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("res_type", sa.Text, nullable=False),
    sa.Column("res_id", sa.Text, nullable=False),
    sa.Column("version_id", sa.Integer, nullable=False),
    sa.Column("last_updated", sa.BigInteger, nullable=False),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=True),
    sa.UniqueConstraint("res_type", "res_id", "version_id", name="uq_resource_version"),
    sa.Index("ix_resource_version_type_seq", "res_type", "seq"),
)


def _index_table(name: str, *columns: sa.Column[object], indexes: list[list[str]]) -> sa.Table:
    table = sa.Table(
        name,
        metadata,
        sa.Column("res_type", sa.Text, nullable=False),
        sa.Column("res_id", sa.Text, nullable=False),
        sa.Column("param", sa.Text, nullable=False),
        sa.Column("grp", sa.Integer, nullable=True),
        *columns,
        sa.Index(f"ix_{name}_resource", "res_type", "res_id"),
    )
    for cols in indexes:
        sa.Index(f"ix_{name}_{'_'.join(cols)}", *[table.c[c] for c in ["res_type", "param", *cols]])
    return table


search_token = _index_table(
    "search_token",
    sa.Column("system", sa.Text, nullable=True),
    sa.Column("code", sa.Text, nullable=True),
    sa.Column("text", sa.Text, nullable=True),
    indexes=[["code", "res_id", "system"]],
)
StringValue = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
"""search_string.value compares in code point order on both backends (migration 0002), so a
starts-with search is an index range (app/search/query_leaf.py)."""

search_string = _index_table(
    "search_string",
    sa.Column("value", StringValue, nullable=False),
    sa.Column("exact", sa.Text, nullable=False),
    indexes=[["value", "res_id"]],
)
search_reference = _index_table(
    "search_reference",
    sa.Column("target_type", sa.Text, nullable=True),
    sa.Column("target_id", sa.Text, nullable=True),
    sa.Column("target_version", sa.Text, nullable=True),
    sa.Column("url", sa.Text, nullable=True),
    sa.Column("ident_system", sa.Text, nullable=True),
    sa.Column("ident_value", sa.Text, nullable=True),
    indexes=[["target_id", "target_type", "res_id"], ["url", "res_id"]],
)
search_date = _index_table(
    "search_date",
    sa.Column("low", sa.BigInteger, nullable=False),
    sa.Column("high", sa.BigInteger, nullable=False),
    sa.Column("span", sa.BigInteger, nullable=True),
    indexes=[["low", "high", "res_id"], ["span"]],
)
search_number = _index_table(
    "search_number",
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("low", sa.Float, nullable=False),
    sa.Column("high", sa.Float, nullable=False),
    indexes=[["value", "res_id"]],
)
search_quantity = _index_table(
    "search_quantity",
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("low", sa.Float, nullable=False),
    sa.Column("high", sa.Float, nullable=False),
    sa.Column("system", sa.Text, nullable=True),
    sa.Column("code", sa.Text, nullable=True),
    sa.Column("unit", sa.Text, nullable=True),
    indexes=[["code", "value", "res_id"]],
)
search_uri = _index_table(
    "search_uri",
    sa.Column("value", sa.Text, nullable=False),
    indexes=[["value", "res_id"]],
)

INDEX_TABLES = (
    search_token,
    search_string,
    search_reference,
    search_date,
    search_number,
    search_quantity,
    search_uri,
)

ingest_unit = sa.Table(
    "ingest_unit",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("unit_id", sa.Text, nullable=False, unique=True),
    sa.Column("centre", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("transport", sa.Text, nullable=False),
    sa.Column("source_name", sa.Text, nullable=True),
    sa.Column("position", sa.Text, nullable=True),
    sa.Column("context", sa.LargeBinary, nullable=True),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("outcome", sa.LargeBinary, nullable=True),
    sa.Column("result", sa.LargeBinary, nullable=True),
    sa.Index("ix_ingest_unit_status", "status", "centre", "seq"),
)
"""Every unit of input (an HL7 v2 message, a CSV row, a vendor Bundle), stored before it is
acknowledged and before it is mapped (migration 0004). ``unit_id`` is a digest of centre, kind,
context and content, so the same input sent twice is one unit. ``status`` is ``received``
(not yet mapped: picked up again after a crash), ``mapped`` or ``quarantined`` (``outcome``
holds the OperationOutcome). ``result`` lists what the mapping wrote."""

ingest_watermark = sa.Table(
    "ingest_watermark",
    metadata,
    sa.Column("centre", sa.Text, primary_key=True),
    sa.Column("res_type", sa.Text, primary_key=True),
    sa.Column("instant", sa.Text, nullable=False),
)
"""How far polling a centre's FHIR API has got, per resource type (``meta.lastUpdated``)."""

pathway_dirty = sa.Table(
    "pathway_dirty",
    metadata,
    sa.Column("patient_id", sa.Text, primary_key=True),
    sa.Column("queued_at", sa.BigInteger, nullable=False),
    sa.Index("ix_pathway_dirty_queued", "queued_at", "patient_id"),
)
"""Patients whose pathway must be derived again (migration 0005): written in the same
transaction as the write that changed one of their resources (``WriteTx``), and removed once
their CarePlans are derived, so a change is never missed even across a crash. Claimed oldest
first through its index (migration 0008)."""

_EPISODE_TEXT = (
    "stage",
    "status",
    "referred",
    "referral_centre",
    "referral_source",
    "mdt",
    "mdt_centre",
    "decision",
    "treatment_scheduled",
    "treated",
    "treating_centre",
    "modality",
    "operator",
    "aetiology",
    "follow_up",
    "discharged",
    "ended",
    "exit",
    "rtt_status",
    "rtt_stop",
    "sex",
    "birth_date",
    "area",
    "centres",
)
pathway_episode = sa.Table(
    "pathway_episode",
    metadata,
    sa.Column("careplan_id", sa.Text, primary_key=True),
    sa.Column("patient_id", sa.Text, nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("repair", sa.Boolean, nullable=True),
    *[sa.Column(name, sa.Text, nullable=name not in ("stage", "status")) for name in _EPISODE_TEXT],
    sa.Index("ix_pathway_episode_patient", "patient_id"),
    sa.Index("ix_pathway_episode_referred", "referred"),
    sa.Index("ix_pathway_episode_treated", "treated"),
)
"""One flat row per derived episode (``app.pathway.model.Episode``'s scalar facts; dates as
ISO text, ``centres`` space-separated): the metrics aggregate these rows instead of parsing
CarePlans."""

auth_code = sa.Table(
    "auth_code",
    metadata,
    sa.Column("code_hash", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)
"""Authorization codes of the embedded authorization server (migration 0006): SHA-256 of
the code, the pending grant as JSON; deleted when exchanged (single use)."""

auth_launch = sa.Table(
    "auth_launch",
    metadata,
    sa.Column("handle", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("patient", sa.Text, nullable=True),
    sa.Column("encounter", sa.Text, nullable=True),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)
"""EHR launch handles: the context an ``launch`` parameter stands for."""

auth_token = sa.Table(
    "auth_token",
    metadata,
    sa.Column("jti", sa.Text, primary_key=True),
    sa.Column("grant_id", sa.Text, nullable=False),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
    sa.Index("ix_auth_token_grant", "grant_id"),
    sa.Index("ix_auth_token_revoked", "revoked_at"),
)
"""Every access token issued (by ``jti``), so revoking a grant reaches all its tokens and
every worker learns of revocations (``revoked_at``)."""

auth_refresh = sa.Table(
    "auth_refresh",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("grant_id", sa.Text, nullable=False),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
    sa.Index("ix_auth_refresh_grant", "grant_id"),
)
"""Refresh tokens (SHA-256), bound to their client, with the grant they refresh as JSON."""

auth_assertion = sa.Table(
    "auth_assertion",
    metadata,
    sa.Column("issuer", sa.Text, primary_key=True),
    sa.Column("jti", sa.Text, primary_key=True),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)
"""``jti`` of client assertions already used (Backend Services replay protection), kept
until the assertion expires."""

audit_queue = sa.Table(
    "audit_queue",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    sa.Column("event", sa.LargeBinary, nullable=False),
)
"""Accesses recorded but not yet stored as AuditEvents (migration 0007): one cheap row each,
written every fraction of a second; turned into indexed AuditEvents when the service has
time, and removed in the transaction that stores them (``app.auth.audit``)."""
