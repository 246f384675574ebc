"""Where an R4 core extension may be used: the element contexts of its definition.

``humanname-mothers-family`` is defined for ``HumanName.family``; on a HumanName itself it is
misplaced, and the HL7 Java validator rejects it ("not allowed to be used at this point").
The contexts are vendored from R4's extension-definitions.json (`r4-bindings.json`,
``extensionContexts``); an extension we do not hold the definition of is not judged here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from app.errors import Issue
from app.validation.core_bindings import load_core_bindings
from app.validation.walk import Node

__all__ = ["context_issues"]

# R4's own conformance and terminology resources use authoring extensions (normative-version,
# fhir-type, regex, valueset-concept-comments...) outside their declared contexts, hundreds of
# times; the HL7 Java validator accepts its core package. Extensions in these resources are
# not context-checked (found by running base_issues over every R4 core definition).
_CONFORMANCE: Final = frozenset(
    {
        "CapabilityStatement",
        "CodeSystem",
        "CompartmentDefinition",
        "ConceptMap",
        "GraphDefinition",
        "ImplementationGuide",
        "MessageDefinition",
        "NamingSystem",
        "OperationDefinition",
        "SearchParameter",
        "StructureDefinition",
        "StructureMap",
        "TerminologyCapabilities",
        "ValueSet",
    }
)
_INDEX: Final = re.compile(r"\[\d+\]")
_OF_TYPE: Final = re.compile(r"\.ofType\([A-Za-z]+\)")
_PLAIN_CONTEXT: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*(\[x\])?)*")
_QUANTITIES: Final = frozenset(
    {"Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"}
)


def _element_names(node: Node) -> set[str]:
    """What an extension on ``node`` sits on, as extension contexts name it: the type
    (``HumanName``) and the element path (``Patient.name``), plus the base types."""
    name = node.typedef.name
    rtype = node.resource.get("resourceType")
    tail = node.path.rsplit("*/", 1)[-1] if "*/" in node.path else node.path[len(str(rtype)) :]
    path = _OF_TYPE.sub("[x]", _INDEX.sub("", f"{rtype}{tail}"))
    names = {name, path, "Element", "Base"}
    if node.is_resource:
        names |= {"Resource", "DomainResource"} if node.is_domain_resource else {"Resource"}
    elif "." in name:
        names.add("BackboneElement")
    if name in _QUANTITIES:
        names.add("Quantity")
    return names


def context_issues(node: Node) -> Iterator[Issue]:
    """An issue for each R4 core extension on ``node`` used outside its contexts."""
    if node.resource.get("resourceType") in _CONFORMANCE:
        return
    contexts = load_core_bindings().extension_contexts
    names: set[str] | None = None
    for key in ("extension", "modifierExtension"):
        extensions = node.obj.get(key)
        for index, extension in enumerate(extensions if type(extensions) is list else []):
            if type(extension) is not dict:
                continue
            url = extension.get("url")
            allowed = contexts.get(url) if type(url) is str else None
            if allowed is None or any(not _PLAIN_CONTEXT.fullmatch(c) for c in allowed):
                continue
            names = names if names is not None else _element_names(node)
            if allowed.isdisjoint(names):
                where = f"{node.path}.{key}[{index}]"
                text = (
                    f"the extension {url} is not allowed here (allowed: "
                    f"{', '.join(sorted(allowed))}; this element is {', '.join(sorted(names))})"
                )
                yield Issue("error", "structure", f"{where}: {text}", (where,))
