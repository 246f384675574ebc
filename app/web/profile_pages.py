"""The ``/profiles`` pages: profile documentation rendered to HTML strings (pure functions).

Server-rendered, no script, every value escaped: a StructureDefinition's text is data, not
markup. ``ProfilePages.build`` renders everything once at start-up; serving a page is a dict
lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from app.web.profile_doc import (
    ElementRow,
    ProfileDoc,
    TypeRef,
    load_docs,
    short_name,
    type_label,
)
from app.web.style import CSS

_INDENT_EM = 1.2


@dataclass(frozen=True, slots=True)
class ProfilePages:
    index: str
    pages: dict[str, str]
    """Profile name -> page."""

    @classmethod
    def build(cls, profiles_dir: Path, examples_dir: Path | None = None) -> ProfilePages:
        docs = load_docs(profiles_dir, examples_dir) if profiles_dir.is_dir() else []
        names = {d.name for d in docs}
        return cls(index_page(docs), {d.name: profile_page(d, names) for d in docs})

    def not_found(self, name: str) -> str:
        return not_found_page(name)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _layout(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        '<header><nav><a href="/profiles">All profiles</a>'
        '<a href="/fhir/metadata">CapabilityStatement</a></nav></header>'
        f"<main>{body}</main></body></html>\n"
    )


def profile_href(name: str) -> str:
    return f"/profiles/{quote(name, safe='')}"


def value_set_href(url: str) -> str:
    return f"/fhir/ValueSet?url={quote(url, safe='')}"


def index_page(docs: list[ProfileDoc]) -> str:
    def table(items: list[ProfileDoc]) -> str:
        rows = "".join(
            f'<tr><td><a href="{_e(profile_href(d.name))}">{_e(d.name)}</a></td>'
            f"<td>{_e(d.title)}</td><td>{_e(d.type)}</td><td>{_e(d.version)}</td>"
            f"<td><code>{_e(d.url)}</code></td></tr>"
            for d in items
        )
        return (
            "<table><thead><tr><th>name</th><th>title</th><th>type</th><th>version</th>"
            f"<th>canonical url</th></tr></thead><tbody>{rows}</tbody></table>"
        )

    profiles = [d for d in docs if not d.is_extension]
    extensions = [d for d in docs if d.is_extension]
    body = (
        "<h1>Regional profiles</h1>"
        '<p class="muted">StructureDefinitions of the South London mitral valve network. '
        "Validate a resource against one with <code>POST /fhir/[type]/$validate</code>.</p>"
        f"<h2>Profiles</h2>{table(profiles) if profiles else '<p>None loaded.</p>'}"
        + (f"<h2>Extensions</h2>{table(extensions)}" if extensions else "")
    )
    return _layout("Regional profiles", body)


def not_found_page(name: str) -> str:
    body = (
        "<h1>Profile not found</h1>"
        f"<p>There is no profile named <code>{_e(name)}</code>. "
        'See <a href="/profiles">all profiles</a>.</p>'
    )
    return _layout("Profile not found", body)


def _type_html(ref: TypeRef, names: set[str]) -> str:
    def link(url: str) -> str:
        name = short_name(url)
        if name in names:
            return f'<a href="{_e(profile_href(name))}">{_e(name)}</a>'
        return _e(name)

    inner = [link(u) for u in (*ref.targets, *ref.profiles)]
    return _e(type_label(ref.code)) + (f"({' | '.join(inner)})" if inner else "")


def _element_row(row: ElementRow, names: set[str]) -> str:
    classes = " ".join(
        c for c, on in (("changed", row.changed), ("prohibited", row.max == "0")) if on
    )
    binding = ""
    if row.value_set:
        binding = (
            f"{_e(row.binding_strength or '')}: "
            f'<a href="{_e(value_set_href(row.value_set))}">{_e(row.value_set)}</a>'
        )
    return (
        f'<tr class="{classes}" data-element="{_e(row.id)}">'
        f'<td class="path" style="padding-left:{0.5 + row.depth * _INDENT_EM:.1f}em">'
        f"{_e(row.label)}</td>"
        f'<td class="card">{_e(row.cardinality)}</td>'
        f"<td>{', '.join(_type_html(t, names) for t in row.types)}</td>"
        f'<td class="binding">{binding}</td>'
        f"<td>{f'<code>{_e(row.fixed)}</code>' if row.fixed else ''}</td>"
        f"<td>{'<span class=ms title=must-support>S</span>' if row.must_support else ''}</td>"
        f"<td>{_e(row.short)}</td></tr>"
    )


def profile_page(doc: ProfileDoc, names: set[str]) -> str:
    meta = "".join(
        f"<dt>{_e(label)}</dt><dd>{value}</dd>"
        for label, value in (
            ("Canonical url", f"<code>{_e(doc.url)}</code>"),
            ("Version", _e(doc.version)),
            ("Status", _e(doc.status)),
            ("Resource type", _e(doc.type)),
            ("Base", f"<code>{_e(doc.base)}</code>"),
        )
    )
    elements = "".join(_element_row(r, names) for r in doc.elements)
    parts = [
        f"<h1>{_e(doc.name)}</h1><p class=muted>{_e(doc.title)}</p>",
        f'<dl class="meta">{meta}</dl>',
        f"<p>{_e(doc.description)}</p>",
        "<h2>Elements</h2>",
        '<p class="muted">Rows with a blue edge are constrained by this profile; '
        "<span class=ms>S</span> marks must-support; struck-out rows are prohibited.</p>",
        '<table id="elements"><thead><tr><th>element</th><th>card.</th><th>type</th>'
        "<th>binding</th><th>fixed / pattern</th><th>MS</th><th>description</th></tr>"
        f"</thead><tbody>{elements}</tbody></table>",
    ]
    if doc.slices:
        rows = "".join(
            f"<tr><td class=path>{_e(s.element)}</td><td>{_e('; '.join(s.discriminators))}</td>"
            f"<td>{_e(s.rules)}{' (ordered)' if s.ordered else ''}</td>"
            f"<td>{_e(', '.join(f'{name} {card}' for name, card in s.slices))}</td></tr>"
            for s in doc.slices
        )
        parts.append(
            "<h2>Slices</h2><table id=slices><thead><tr><th>element</th><th>discriminator</th>"
            f"<th>rules</th><th>slices</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if doc.constraints:
        rows = "".join(
            f"<tr><td>{_e(c.key)}</td><td>{_e(c.severity)}</td><td>{_e(c.human)}</td>"
            f"<td><code>{_e(c.expression)}</code></td><td class=path>{_e(c.element)}</td>"
            f"<td>{'this profile' if c.ours else 'R4'}</td></tr>"
            for c in doc.constraints
        )
        parts.append(
            "<h2>Constraints</h2><table id=constraints><thead><tr><th>key</th>"
            "<th>severity</th><th>rule</th><th>expression</th><th>on</th><th>from</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )
    parts.append("<h2>Examples</h2>")
    if doc.examples:
        parts.extend(
            f"<h3>{_e(x.name)}</h3><pre><code>{_e(x.json)}</code></pre>" for x in doc.examples
        )
    else:
        parts.append("<p class=muted>No example instances.</p>")
    return _layout(doc.name, "".join(parts))
