"""The profile documentation as markdown, for ``docs/profiles`` (pure functions).

Same records as the served pages (``profile_doc``); links into the service are written as
absolute paths on the service (``/fhir/ValueSet?url=…``, ``/profiles/…``), which is where the
documentation is read in a deployment.
"""

from __future__ import annotations

from app.web.profile_doc import ElementRow, ProfileDoc, TypeRef, short_name, type_label
from app.web.profile_pages import value_set_href

_INDENT = "&nbsp;&nbsp;"
_OR = " \\| "


def cell(text: str) -> str:
    """One table cell: pipes escaped, no line breaks."""
    return " ".join(text.replace("|", "\\|").split())


def _code(text: str) -> str:
    if not text:
        return ""
    fence = "``" if "`" in text else "`"
    return f"{fence} {cell(text)} {fence}" if fence == "``" else f"`{cell(text)}`"


def index_markdown(docs: list[ProfileDoc]) -> str:
    lines = [
        "# Regional profiles",
        "",
        "Generated from `profiles/build/` by `python scripts/generate_profile_docs.py`; do not "
        "edit by hand. The service serves the same pages as HTML under `/profiles`.",
        "",
    ]
    for heading, items in (
        ("Profiles", [d for d in docs if not d.is_extension]),
        ("Extensions", [d for d in docs if d.is_extension]),
    ):
        if not items:
            continue
        lines += [
            f"## {heading}",
            "",
            "| name | title | type | version | canonical url |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| [{d.name}]({d.name}.md) | {cell(d.title)} | {d.type} | {d.version} | "
            f"{_code(d.url)} |"
            for d in items
        ]
        lines.append("")
    return "\n".join(lines)


def _type(ref: TypeRef, names: set[str]) -> str:
    inner = [
        f"[{short_name(u)}]({short_name(u)}.md)" if short_name(u) in names else short_name(u)
        for u in (*ref.targets, *ref.profiles)
    ]
    return type_label(ref.code) + (f"({_OR.join(inner)})" if inner else "")


def _row(row: ElementRow, names: set[str]) -> str:
    path = cell(row.label)
    if row.changed:
        path = f"**{path}**"
    if row.max == "0":
        path = f"~~{path}~~"
    path = _INDENT * row.depth + path
    binding = (
        f"{row.binding_strength}: [{row.value_set}]({value_set_href(row.value_set)})"
        if row.value_set
        else ""
    )
    return (
        f"| {path} | {row.cardinality} | {', '.join(_type(t, names) for t in row.types)} "
        f"| {cell(binding)} | {_code(row.fixed or '')} | {'S' if row.must_support else ''} "
        f"| {cell(row.short)} |"
    )


def profile_markdown(doc: ProfileDoc, names: set[str]) -> str:
    lines = [
        f"# {doc.name}",
        "",
        f"*{cell(doc.title)}*" if doc.title else "",
        "",
        f"- Canonical url: `{doc.url}`",
        f"- Version: {doc.version}",
        f"- Status: {doc.status}",
        f"- Resource type: {doc.type}",
        f"- Base: `{doc.base}`",
        "",
        doc.description,
        "",
        "## Elements",
        "",
        "Bold rows are constrained by this profile, `S` marks must-support, struck-out rows are "
        "prohibited.",
        "",
        "| element | card. | type | binding | fixed / pattern | MS | description |",
        "|---|---|---|---|---|---|---|",
        *(_row(r, names) for r in doc.elements),
        "",
    ]
    if doc.slices:
        lines += [
            "## Slices",
            "",
            "| element | discriminator | rules | slices |",
            "|---|---|---|---|",
            *(
                f"| {_code(s.element)} | {cell('; '.join(s.discriminators))} | {s.rules}"
                f"{' (ordered)' if s.ordered else ''} | "
                f"{cell(', '.join(f'{n} {c}' for n, c in s.slices))} |"
                for s in doc.slices
            ),
            "",
        ]
    if doc.constraints:
        lines += [
            "## Constraints",
            "",
            "| key | severity | rule | expression | on | from |",
            "|---|---|---|---|---|---|",
            *(
                f"| {c.key} | {c.severity} | {cell(c.human)} | {_code(c.expression)} | "
                f"{_code(c.element)} | {'this profile' if c.ours else 'R4'} |"
                for c in doc.constraints
            ),
            "",
        ]
    lines += ["## Examples", ""]
    if not doc.examples:
        lines += ["No example instances.", ""]
    for example in doc.examples:
        lines += [f"### {example.name}", "", "```json", example.json, "```", ""]
    return "\n".join(lines)
