"""Regenerate the API conformance docs from the CapabilityStatement the server serves.

The statement is built by the same function that answers ``GET /fhir/metadata``
(``app.fhir.interactions.capabilities.capability_statement``) from the route table, the
search parameter registry and the R4 resource type list, with the default settings. So the
documents say exactly what the code does:

- docs/capability-statement.json   the statement, pretty-printed
- docs/api-conformance.md          a readable summary of it, plus the behaviour behind it

Usage (from the repository root, in the project's virtualenv):

    python scripts/generate_capability_docs.py           # rewrite both files
    python scripts/generate_capability_docs.py --check   # exit 1 if either is stale

``tests/test_docs.py`` runs ``--check``, so CI fails when the server changes and the docs
do not.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from app.auth.discovery import security_section
from app.config import Settings
from app.errors import FhirError
from app.fhir.interactions.capabilities import capability_statement
from app.model.resource_types import resource_types

ROOT = Path(__file__).resolve().parent.parent
JSON_PATH = ROOT / "docs" / "capability-statement.json"
MARKDOWN_PATH = ROOT / "docs" / "api-conformance.md"
BASE = "http://127.0.0.1:8080/fhir"
FLAGS = (
    "versioning",
    "readHistory",
    "updateCreate",
    "conditionalCreate",
    "conditionalRead",
    "conditionalUpdate",
    "conditionalDelete",
)
# The order the spec's RESTful API page uses, for listing interaction codes.
SPEC_ORDER = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
    "transaction",
    "batch",
    "search-system",
    "history-system",
)
# When each error class is raised, for the error table (the status and issue code come from
# the classes themselves). A class missing here still gets a row, with an empty description.
ERROR_USES = {
    "InvalidRequest": "bad header, parameter, id or Bundle entry; unknown conditional criteria",
    "StructureError": "body is not JSON, not a resource, the wrong type, or breaks R4 structure",
    "Unprocessable": "well-formed JSON that breaks a FHIR rule beyond structure",
    "ResourceNotFound": "no such resource or version; unknown resource type in the URL",
    "ResourceGone": "read of a deleted resource, or vread of a deletion",
    "VersionConflict": "a concurrent change conflicts with this one",
    "PreconditionFailed": "`If-Match` does not name the current version",
    "MultipleMatches": "conditional criteria match more than one resource",
    "NotSupported": "a feature this server does not implement",
    "MethodNotAllowed": "an HTTP method the URL does not take",
    "NotAcceptable": "`_format` or `Accept` asks for something other than JSON",
    "UnsupportedMediaType": "request `Content-Type` is not FHIR JSON (or JSON Patch for PATCH)",
    "PayloadTooLarge": "body or Bundle larger than the configured limit",
    "Transient": "database busy, or a deadlock with a concurrent write; retry (`Retry-After`)",
}


# Conditional writes by number of matches (app/fhir/interactions/*.py).
CONDITIONAL = (
    ("interaction", "no match", "one match", "several matches"),
    (
        "`POST [type]` with `If-None-Exist`",
        "creates (`201`)",
        "returns the match, writes nothing (`200`)",
        "`412`",
    ),
    (
        "`PUT [type]?criteria`",
        "creates, with the body's id or a new one (`201`)",
        "updates the match (`200`); a different body id is `400`",
        "`412`",
    ),
    ("`PATCH [type]?criteria`", "`404`", "patches the match", "`412`"),
    ("`DELETE [type]?criteria`", "`204`, nothing done", "deletes the match (`204`)", "`412`"),
)


def _table(rows: tuple[tuple[str, ...], ...]) -> str:
    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def setting_default(name: str) -> Any:
    """A setting's default as declared, ignoring the environment of whoever runs this."""
    return Settings.model_fields[name].default


def build_statement() -> dict[str, Any]:
    max_entries = setting_default("max_bundle_entries")
    # As served with the defaults: access control on, the embedded authorization server.
    defaults = Settings.model_construct(auth_issuer=None, auth_server=True)
    security = orjson.dumps(security_section(BASE, defaults))
    body = capability_statement(BASE, max_entries, resource_types(), security)
    statement: dict[str, Any] = orjson.loads(body)
    return statement


def render_json(statement: dict[str, Any]) -> str:
    return json.dumps(statement, indent=2, ensure_ascii=False) + "\n"


def _params(items: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((p["name"], p["type"]) for p in items)


def _param_list(params: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"`{name}` ({kind})" for name, kind in params) or "none"


def _spec_order(codes: Iterable[str]) -> list[str]:
    rank = {code: i for i, code in enumerate(SPEC_ORDER)}
    return sorted(codes, key=lambda c: (rank.get(c, len(rank)), c))


def _codes(resource: dict[str, Any]) -> list[str]:
    return _spec_order(i["code"] for i in resource.get("interaction", []))


def _common_codes(resources: list[dict[str, Any]]) -> list[str]:
    shared = set.intersection(*(set(_codes(r)) for r in resources))
    return [c for c in _codes(resources[0]) if c in shared]


def _flag_modes(resources: list[dict[str, Any]]) -> dict[str, Any]:
    modes: dict[str, Any] = {}
    for flag in FLAGS:
        counts = Counter(json.dumps(r.get(flag)) for r in resources)
        modes[flag] = json.loads(counts.most_common(1)[0][0])
    return modes


def _deviations(
    resources: list[dict[str, Any]], common: list[str], modes: dict[str, Any]
) -> list[str]:
    rows = []
    for resource in resources:
        notes = []
        extra = [c for c in _codes(resource) if c not in common]
        if extra:
            notes.append("also " + ", ".join(extra))
        for flag in FLAGS:
            if resource.get(flag) != modes[flag]:
                notes.append(f"{flag}: {json.dumps(resource.get(flag))}")
        if notes:
            rows.append(f"| {resource['type']} | {'; '.join(notes)} |")
    return rows


def _resource_section(rest: dict[str, Any]) -> list[str]:
    resources: list[dict[str, Any]] = rest["resource"]
    common = _common_codes(resources)
    modes = _flag_modes(resources)
    shared_params = set.intersection(*(set(_params(r["searchParam"])) for r in resources))
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for resource in resources:
        extra = tuple(p for p in _params(resource["searchParam"]) if p not in shared_params)
        groups.setdefault(extra, []).append(resource["type"])
    lines = [
        f"## Resource types ({len(resources)})",
        "",
        "Every R4 (4.0.1) resource type is served; each declares the base R4",
        "StructureDefinition of its type as its profile.",
        "",
        "Interactions on every type: " + ", ".join(f"`{c}`" for c in common) + ".",
        "",
        "Settings on every type: "
        + ", ".join(f"`{flag}` {json.dumps(modes[flag])}" for flag in FLAGS)
        + ".",
        "",
    ]
    deviations = _deviations(resources, common, modes)
    if deviations:
        lines += ["Types that differ:", "", "| type | differs in |", "|---|---|", *deviations, ""]
    else:
        lines += ["No type differs from these.", ""]
    lines += [
        "Search parameters on every type: " + _param_list(sorted(shared_params)) + ".",
        "",
        "| further search parameters | types |",
        "|---|---|",
    ]
    for extra, types in sorted(groups.items(), key=lambda g: (-len(g[0]), g[0])):
        label = _param_list(extra) if extra else "none"
        lines.append(f"| {label} | {len(types)}: {', '.join(types)} |")
    return [*lines, ""]


def _operation_section(rest: dict[str, Any]) -> list[str]:
    resources: list[dict[str, Any]] = rest["resource"]
    declared = [
        (r["type"], op["name"], op["definition"])
        for r in resources
        for op in r.get("operation", [])
    ]
    everywhere = {
        (name, definition)
        for _, name, definition in declared
        if sum(1 for _, n, d in declared if (n, d) == (name, definition)) == len(resources)
    }
    rows = [f"| every type | `${name}` | {definition} |" for name, definition in sorted(everywhere)]
    rows += [
        f"| `{t}` | `${name}` | {definition} |"
        for t, name, definition in declared
        if (name, definition) not in everywhere
    ]
    if not rows:
        return []
    return [
        "## Operations",
        "",
        "Each at type and instance level, by GET (query parameters) and POST (a `Parameters`",
        "body); see [terminology](terminology.md) and [validation](validation.md) for their",
        "inputs and errors.",
        "",
        "| type | operation | definition |",
        "|---|---|---|",
        *rows,
        "",
    ]


def _error_rows() -> list[str]:
    classes: list[type[FhirError]] = []
    pending: list[type[FhirError]] = [FhirError]
    while pending:
        cls = pending.pop()
        classes.extend(cls.__subclasses__())
        pending.extend(cls.__subclasses__())
    errors = sorted(
        ((cls("example"), cls.__name__) for cls in classes),
        key=lambda e: (int(e[0].status), e[1]),
    )
    return [
        f"| {int(err.status)} | `{err.issue_code}` | {ERROR_USES.get(name, '')} | `{name}` |"
        for err, name in errors
    ]


def _header(statement: dict[str, Any], rest: dict[str, Any]) -> list[str]:
    software = statement["software"]
    system = ", ".join(f"`{c}`" for c in _codes(rest))
    return [
        "# API conformance",
        "",
        "<!-- Generated by scripts/generate_capability_docs.py from the server's own",
        "     CapabilityStatement; do not edit by hand. tests/test_docs.py fails when stale. -->",
        "",
        "What `GET /fhir/metadata` says, in brief, and the behaviour behind it. The full",
        "statement is in [capability-statement.json](capability-statement.json). It is built",
        "from the route table (`app/fhir/router.py`) and the search parameter registry",
        "(`app/search/parameters.py`), so it claims only what the server does.",
        "",
        "| | |",
        "|---|---|",
        f"| FHIR version | {statement['fhirVersion']} (R4) |",
        f"| Software | {software['name']} {software['version']} |",
        f"| Formats | {', '.join(f'`{f}`' for f in statement['format'])} (JSON only) |",
        f"| Patch formats | {', '.join(f'`{f}`' for f in statement['patchFormat'])} |",
        f"| Base URL | `{BASE}` by default; `MITRAL_FHIR_BASE_URL` sets the public one |",
        "",
        "## System level",
        "",
        f"Interactions: {system}, and `capabilities` (`GET /metadata`).",
        "",
        "Search parameters: " + _param_list(_params(rest["searchParam"])) + ".",
        "",
    ]


NOTES = """\
## Behaviour

### Reads

- `read` and `vread` return the stored JSON bytes unchanged, with `ETag: W/"<version>"` and
  `Last-Modified`. `If-None-Match` with the current version (or `*`) gives `304`.
- A deleted resource gives `410 Gone`; a `vread` of a deletion version does too. An unknown
  id gives `404`.
- Only JSON is spoken: `_format` may be `json`, `application/fhir+json` or `application/json`,
  and `_pretty=true` indents. Asking for XML gives `406`.

### Writes

- Every written resource is checked against the R4 structure first; all errors come back
  together in one `400` OperationOutcome, each with the FHIRPath of the element at fault.
- `create` assigns a new id (an id in the body is ignored). `update` needs the id in the body
  to match the URL, and creates the resource if that id is new (`201`).
- An update or patch that changes nothing (ignoring `meta.versionId` and `meta.lastUpdated`)
  keeps the current version and returns `200`.
- `If-Match: W/"<version>"` on `update`, `patch` and `delete` gives `412` when it is not the
  current version.
- `patch` takes a JSON Patch (`application/json-patch+json`); the result is validated like an
  update.
- `delete` returns `204` and writes a deletion version to history; deleting a resource that
  does not exist (or no longer exists) is also `204`. A later `update` brings it back.
- `Prefer: return=minimal | representation | OperationOutcome` is honoured; the default is
  `representation`.

### Conditional interactions

{conditional_table}

- Criteria are strict: an unknown or unsupported parameter is a `400` (ignoring it would
  widen the match), and empty criteria are a `400`. `_format` and `_pretty` are ignored.
- Conditional writes are safe under concurrency: identical criteria are serialized (a
  PostgreSQL advisory lock on the criteria; SQLite has a single writer), so N identical
  concurrent conditional creates make exactly one resource.
- Conditional patch is served, but an R4 CapabilityStatement has no element to say so.

### Search

- Results are pages of at most `_count` entries (default {default_page}, at most {max_page}),
  in a stable order, with a `next` link carrying an opaque `_cursor` (keyset paging: pages stay
  correct while writes happen). `Bundle.total` is given when the whole result fits on the
  first page, or on request with `_total=accurate` (or `estimate`). `_summary=count` returns
  only the total.
- An unknown or unsupported parameter is ignored and reported in an OperationOutcome entry
  (`search.mode = outcome`); with `Prefer: handling=strict` it is a `400` instead. An
  unsupported modifier is always a `400`; `:missing` is supported, and `:in`/`:not-in` on a
  token take the url of a ValueSet the terminology service can expand (an unknown one is a
  `400`).
- `_type` selects types in a system-level search. `POST [type]/_search` takes an
  `application/x-www-form-urlencoded` body.
- Date values without a time zone offset are read as UTC.

### History

- Instance, type and system history, newest first, with `_since` and `_count`; other
  parameters are a `400`. Pages are keyset-paged on the version sequence, so they stay stable
  while writes happen.

### Patient/[id]/$everything

- A searchset Bundle: the Patient, then every resource of its compartment type by type (each
  found like `Patient/[id]/[type]`), ordered by type and id; what those resources reference
  outside the compartment (Organization, Practitioner, ...) follows as `include` entries.
- `_type` (types to return), `_since` (changed at or after), `start` and `end` (care dates,
  applied to types with a `date` search parameter; other types are not filtered by them),
  `_count` (page size) with `next` and `previous` links (`_offset`); `total` counts the record.
- AuditEvents are returned only when `_type` names them. More than {max_entries} resources is
  a `400` (`too-costly`): narrow the call with `_type` or `_since`. Only the instance level is
  served (`Patient/$everything` is a `400`).

### Batch and transaction

- At most {max_entries} entries per Bundle; more is a `413`.
- A **transaction** runs in one database transaction, in the spec's order (DELETE, POST,
  PUT/PATCH, then GET), whatever the order of the entries. Every `urn:uuid:` full URL and
  every conditional reference (`Patient?identifier=...`) is resolved before anything is
  written; a conditional reference must match exactly one resource. The same resource may not
  appear twice. If any entry fails, nothing is stored, and the response is that entry's error
  status with an OperationOutcome naming `Bundle.entry[n]`.
- A **batch** runs each entry on its own, in order; a failed entry gets its status and
  OperationOutcome in `response.outcome`, and the others still happen.
- A PATCH entry carries its JSON Patch as a `Binary` resource. Response entries include the
  resource only for reads, or with `Prefer: return=representation`.

### Errors

Every error is an OperationOutcome with the status below and, where it applies, the FHIRPath
of the element at fault in `issue.expression`. A URL that names nothing is a `404`
(`not-found`; an unknown resource type is `not-supported`), and an HTTP method the URL does not
take is a `405`. An unexpected failure is a `500` whose `fatal`/`exception` issue carries an
incident id that matches the server log; no stack trace is sent.

| status | `issue.code` | when | raised as |
|---|---|---|---|
"""


def render_markdown(statement: dict[str, Any]) -> str:
    rest = statement["rest"][0]
    notes = NOTES.format(
        conditional_table=_table(CONDITIONAL),
        default_page=setting_default("default_page_size"),
        max_page=setting_default("max_page_size"),
        max_entries=setting_default("max_bundle_entries"),
    )
    lines = [
        *_header(statement, rest),
        *_resource_section(rest),
        *_operation_section(rest),
        notes.rstrip("\n"),
    ]
    return "\n".join([*lines, *_error_rows()]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the files differ from what would be written"
    )
    args = parser.parse_args(argv)
    statement = build_statement()
    outputs = {JSON_PATH: render_json(statement), MARKDOWN_PATH: render_markdown(statement)}
    if args.check:
        stale = [
            path
            for path, text in outputs.items()
            if not path.exists() or path.read_text(encoding="utf-8") != text
        ]
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        if stale:
            print("run: python scripts/generate_capability_docs.py", file=sys.stderr)
            return 1
        return 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
