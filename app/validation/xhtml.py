"""Narrative XHTML rules: well-formed, a `div` root in the XHTML namespace, safe content only.

FHIR narrative is rendered by clients, so the spec (and the HL7 Java validator) restricts it to
basic HTML 4 formatting: no scripts, forms, event handlers or foreign namespaces. The element
and attribute lists below are the ones the Java validator enforces. The div is plain XML with
no DTD, so HTML named entities such as `&nbsp;` are errors (R4 narrative.html: use the
character or `&#160;`). Parsing uses expat with event handlers only (no tree): a few
microseconds for a typical narrative.
"""

from __future__ import annotations

import xml.parsers.expat
from typing import Final

XHTML_NS: Final = "http://www.w3.org/1999/xhtml"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"

# fmt: off
_ELEMENTS: Final = frozenset((
    "p", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "b", "em", "i", "strong",
    "small", "big", "tt", "dfn", "q", "var", "abbr", "acronym", "cite", "blockquote", "hr",
    "address", "bdo", "kbd", "sub", "sup", "ul", "ol", "li", "dl", "dt", "dd", "pre", "table",
    "caption", "colgroup", "col", "thead", "tr", "tfoot", "tbody", "th", "td", "code", "samp",
    "img", "map", "area",
))
_GLOBAL_ATTRIBUTES: Final = frozenset((
    "title", "style", "class", "id", "lang", "dir", "accesskey", "tabindex", "span", "width",
    "align", "valign", "char", "charoff", "abbr", "axis", "headers", "scope", "rowspan",
    "colspan",
))
_ELEMENT_ATTRIBUTES: Final = frozenset((
    "a.href", "a.name", "a.charset", "a.type", "a.hreflang", "a.rel", "a.rev", "a.shape",
    "a.coords", "img.src", "img.border", "img.alt", "img.longdesc", "img.height", "img.width",
    "img.usemap", "img.ismap", "map.name", "area.shape", "area.coords", "area.href",
    "area.nohref", "area.alt", "table.summary", "table.width", "table.border", "table.frame",
    "table.rules", "table.cellspacing", "table.cellpadding", "pre.space", "blockquote.cite",
    "q.cite",
))
# fmt: on


class _Rejected(Exception):
    """Stops the parse at the first rule broken; the message is the reason shown."""


class _Visitor:
    """Expat callbacks; the first element seen must be the XHTML `div` root."""

    __slots__ = ("root_seen",)

    def __init__(self) -> None:
        self.root_seen = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        ns, _, local = name.rpartition(" ")
        if not self.root_seen:
            if local != "div":
                raise _Rejected(f"the root element must be <div>, not <{local}>")
            if ns != XHTML_NS:
                raise _Rejected(f"the <div> must be in the XHTML namespace {XHTML_NS}")
            self.root_seen = True
        if ns != XHTML_NS:
            raise _Rejected(f"element <{local}> is not in the XHTML namespace")
        if local not in _ELEMENTS:
            raise _Rejected(f"element <{local}> is not allowed in narrative")
        for attr in attributes:
            attr_ns, _, attr_local = attr.rpartition(" ")
            if attr_ns == XML_NS and attr_local in ("lang", "space"):
                continue
            if attr_ns or (
                attr_local not in _GLOBAL_ATTRIBUTES
                and f"{local}.{attr_local}" not in _ELEMENT_ATTRIBUTES
            ):
                raise _Rejected(
                    f"attribute '{attr_local}' is not allowed on <{local}> in narrative"
                )


def _on_entity(name: str, _is_parameter: bool) -> None:
    """Expat resolves the five XML entities itself; any other named entity ends up here."""
    raise _Rejected(f"the entity '&{name};' is not XML; use the character itself or &#...;")


def check_xhtml(text: str) -> str | None:
    """None if the narrative is acceptable, else why not."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.UseForeignDTD(True)  # undefined entities are reported, not fatal
    parser.StartElementHandler = _Visitor().start
    parser.SkippedEntityHandler = _on_entity
    try:
        parser.Parse(text, True)
    except _Rejected as exc:
        return str(exc)
    except xml.parsers.expat.ExpatError as exc:
        return (
            f"not well-formed XML ({xml.parsers.expat.ErrorString(exc.code)}, column {exc.offset})"
        )
    return None
