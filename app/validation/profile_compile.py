"""A snapshot StructureDefinition compiled into the element tree of `profile_model.py`.

A snapshot is a flat, ordered list of element definitions; walking it per resource would mean
parsing ids and re-deciding what each element constrains every time. Here it becomes a tree of
`Node`s keyed the way the JSON is (children by property name, slices with their discriminator
values resolved) and pruned to the elements that carry a rule, so the walk visits only what
can fail.

What counts as a rule of *this* profile: cardinality, fixed/pattern values, narrowed choice
types, reference targets, slicing, must-support, and the bindings and invariants the profile's
own differential declares. Bindings and invariants the snapshot inherits from base R4 are left
to `base_rules.py`, so an issue is never reported twice; rules a slice inherits from its sliced
element are checked once, on the sliced element.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import orjson

from app.validation.definitions import load_definitions
from app.validation.invariants import UnsupportedConstraint
from app.validation.profile_invariants import CompiledInvariant, compile_invariant
from app.validation.profile_model import (
    HL7_SD,
    Binding,
    CompiledProfile,
    Discriminator,
    Node,
    ProfileLoadError,
    Slice,
)

__all__ = ["compile_profile", "load_profile", "resource_of"]

_HL7_VS: Final = "http://hl7.org/fhir/ValueSet/"
UK_CORE_PREFIX: Final = "UKCore-"
_SUPPORTED_DISCRIMINATORS: Final = frozenset({"value", "pattern", "exists", "type"})


def _max(raw: Any, file: str, eid: str) -> int:
    if raw == "*":
        return -1
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ProfileLoadError(file, eid, f"max must be an integer or '*', not {raw!r}") from None


def _prefixed(element: dict[str, Any], prefix: str) -> Any:
    for key, value in element.items():
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            return value
    return None


def _split_id(eid: str) -> list[str]:
    """`ServiceRequest.identifier:ubrn.system` -> path segments, slice names kept on theirs."""
    return eid.split(".")


def _type_name(code: str) -> str:
    """JSON suffix of a choice variant: `string` -> `String`, `Quantity` stays."""
    return code[0].upper() + code[1:]


def resource_of(profile_url: str) -> str | None:
    """The resource type a core or UK Core profile url names, if it names one."""
    last = profile_url.split("|", 1)[0].rsplit("/", 1)[-1]
    if last.startswith(UK_CORE_PREFIX):
        last = last[len(UK_CORE_PREFIX) :]
    if last == "Resource" or last in load_definitions().resources:
        return last
    return None


class _Compiler:
    """Builds one profile's tree from its snapshot (and differential for ownership)."""

    def __init__(self, sd: dict[str, Any], file: str) -> None:
        self.sd = sd
        self.file = file
        self.url = sd["url"]
        differential = sd.get("differential", {}).get("element")
        self.has_differential = isinstance(differential, list)
        self.diff: dict[str, dict[str, Any]] = {}
        for el in differential or []:
            key = el.get("id") or el.get("path") if isinstance(el, dict) else None
            if isinstance(key, str):
                self.diff[key] = el

    def compile(self) -> Node:
        elements = self.sd.get("snapshot", {}).get("element")
        if not isinstance(elements, list) or not elements:
            raise ProfileLoadError(self.file, None, "no snapshot.element (run the build)")
        nodes: dict[str, Node] = {}
        root: Node | None = None
        for raw in elements:
            eid = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(eid, str) or not eid:
                raise ProfileLoadError(self.file, None, "a snapshot element has no id")
            node = self.node(raw, eid)
            segments = _split_id(eid)
            if root is None:
                if len(segments) != 1 or ":" in eid:
                    raise ProfileLoadError(self.file, eid, "the first element must be the root")
                root = node
                nodes[eid] = node
                continue
            last = segments[-1]
            parent_id = eid[: len(eid) - len(last) - 1]
            if ":" in last:
                base_name, slice_name = last.split(":", 1)
                sliced = nodes.get(f"{parent_id}.{base_name}")
                if sliced is None:
                    raise ProfileLoadError(self.file, eid, "slice before its sliced element")
                if sliced.name.endswith("[x]") and slice_name.startswith(sliced.name[:-3]):
                    # A type slice of a choice (`value[x]:valueQuantity`): its rules apply to
                    # that variant, so fold them into the choice element.
                    nodes[eid] = sliced
                    continue
                sliced.slices.append(Slice(slice_name, node))
            else:
                parent = nodes.get(parent_id)
                if parent is None:
                    raise ProfileLoadError(self.file, eid, f"parent '{parent_id}' not defined")
                parent.children[last] = node
            nodes[eid] = node
        assert root is not None
        for node in nodes.values():
            for sl in node.slices:
                sl.discriminators = self.discriminators(node, sl)
                _drop_inherited(node, sl.node)
        _prune(root)
        return root

    def node(self, raw: dict[str, Any], eid: str) -> Node:
        name = _split_id(eid)[-1].split(":", 1)[0]
        try:
            min_ = int(raw.get("min", 0))
        except (TypeError, ValueError):
            raise ProfileLoadError(self.file, eid, "min must be an integer") from None
        node = Node(id=eid, name=name, min=min_, max=_max(raw.get("max", "*"), self.file, eid))
        types = raw.get("type") or []
        if not isinstance(types, list):
            raise ProfileLoadError(self.file, eid, "type must be a list")
        codes: list[str] = []
        targets: list[str] = []
        for t in types:
            if not isinstance(t, dict) or not isinstance(t.get("code"), str):
                raise ProfileLoadError(self.file, eid, "every type needs a code")
            codes.append(t["code"])
            if t["code"] == "Reference":
                targets.extend(t.get("targetProfile") or [])
            if t["code"] == "Extension" and t.get("profile"):
                node.ext_profile = str(t["profile"][0]).split("|", 1)[0]
        node.types = tuple(codes)
        base = raw.get("base")
        if isinstance(base, dict):
            base_max = _max(base.get("max", "*"), self.file, eid)
            node.card_rule = node.min > int(base.get("min", 0)) or (
                node.max != base_max and (base_max == -1 or node.max < base_max)
            )
        else:
            node.card_rule = True
        if name.endswith("[x]"):
            node.choice_prefix = name[:-3]
        if name.endswith("[x]") and (not self.has_differential or "type" in self.diff.get(eid, {})):
            node.choice_keys = {node.choice_prefix + _type_name(c): c for c in codes}
        if targets and "Reference" in codes:
            node.target_profiles = tuple(str(t).split("|", 1)[0] for t in targets)
        node.fixed = _prefixed(raw, "fixed")
        node.pattern = _prefixed(raw, "pattern")
        node.must_support = raw.get("mustSupport") is True
        node.binding = self.binding(raw, eid)
        node.invariants = self.invariants(raw, eid)
        slicing = raw.get("slicing")
        if slicing is not None:
            self.slicing(node, slicing, eid)
        return node

    def binding(self, raw: dict[str, Any], eid: str) -> Binding | None:
        binding = raw.get("binding")
        if not isinstance(binding, dict):
            return None
        strength, value_set = binding.get("strength"), binding.get("valueSet")
        if strength not in ("required", "extensible") or not isinstance(value_set, str):
            return None
        if self.has_differential:
            if "binding" not in self.diff.get(eid, {}):
                return None  # inherited from base R4: base_rules' job
        elif value_set.startswith(_HL7_VS):
            return None
        if strength == "required" and value_set.startswith(_HL7_VS):
            return None  # a core value set restated: base_rules checks it locally
        return Binding(strength, value_set)

    def invariants(self, raw: dict[str, Any], eid: str) -> tuple[CompiledInvariant, ...]:
        own_keys = {c.get("key") for c in self.diff.get(eid, {}).get("constraint", [])}
        out: list[CompiledInvariant] = []
        for c in raw.get("constraint") or []:
            source = c.get("source")
            ours = c.get("key") in own_keys or (
                isinstance(source, str) and not source.startswith(HL7_SD)
            )
            if not ours:
                continue
            if not isinstance(c.get("expression"), str) or not isinstance(c.get("key"), str):
                raise ProfileLoadError(self.file, eid, "a constraint needs key and expression")
            try:
                out.append(compile_invariant(c, self.owner(raw, eid)))
            except UnsupportedConstraint as exc:
                raise ProfileLoadError(self.file, eid, f"constraint {exc}") from exc
        return tuple(out)

    def owner(self, raw: dict[str, Any], eid: str) -> str:
        """What the invariant runs on: the resource, the element's complex type, or (a
        primitive or backbone element) its path."""
        if "." not in eid:
            return str(self.sd["type"])
        codes = [t.get("code") for t in raw.get("type") or []]
        if len(codes) == 1 and codes[0] not in ("BackboneElement", "Element"):
            code = str(codes[0])
            if code[:1].isupper() and code in load_definitions().types:
                return code
        return str(raw.get("path") or eid)

    def slicing(self, node: Node, slicing: Any, eid: str) -> None:
        if not isinstance(slicing, dict):
            raise ProfileLoadError(self.file, eid, "slicing must be an object")
        paths: list[tuple[str, str]] = []
        for d in slicing.get("discriminator") or []:
            kind, path = d.get("type"), d.get("path")
            if kind not in _SUPPORTED_DISCRIMINATORS or not isinstance(path, str):
                raise ProfileLoadError(
                    self.file, eid, f"discriminator {kind!r} on {path!r} is not supported"
                )
            if "(" in path and path != "$this":
                raise ProfileLoadError(self.file, eid, f"discriminator path {path!r} unsupported")
            paths.append((kind, path))
        node.slicing_paths = tuple(paths)
        node.slicing_rules = slicing.get("rules", "open")
        node.slicing_ordered = slicing.get("ordered") is True

    def discriminators(self, sliced: Node, sl: Slice) -> tuple[Discriminator, ...]:
        out: list[Discriminator] = []
        for kind, path in sliced.slicing_paths:
            steps = () if path == "$this" else tuple(path.split("."))
            if kind == "exists":
                target = _child_at(sl.node, steps)
                out.append(Discriminator(kind, steps, target is not None and target.min > 0))
                continue
            if kind == "type":
                target = sl.node if not steps else _child_at(sl.node, steps)
                if target is None or not target.types:
                    raise ProfileLoadError(self.file, sl.node.id, f"no type at '{path}'")
                out.append(Discriminator(kind, steps, frozenset(target.types)))
                continue
            expected = _expected_at(sl.node, steps)
            if expected is None and steps == ("url",) and sl.node.ext_profile:
                expected = sl.node.ext_profile
            if expected is None:
                raise ProfileLoadError(
                    self.file, sl.node.id, f"slice has no fixed or pattern value at '{path}'"
                )
            out.append(Discriminator(kind, steps, expected))
        return tuple(out)


def _drop_inherited(sliced: Node, slice_node: Node) -> None:
    """A slice repeats the sliced element's rules (snapshot generation copies them down);
    every item is already checked against the sliced element, so check them once."""
    keys = {i.key for i in sliced.invariants}
    slice_node.invariants = tuple(i for i in slice_node.invariants if i.key not in keys)
    if slice_node.binding == sliced.binding:
        slice_node.binding = None
    if slice_node.fixed == sliced.fixed:
        slice_node.fixed = None
    if slice_node.pattern == sliced.pattern:
        slice_node.pattern = None


def _child_at(node: Node, steps: tuple[str, ...]) -> Node | None:
    for step in steps:
        child = node.children.get(step)
        if child is None:
            return None
        node = child
    return node


def _expected_at(node: Node, steps: tuple[str, ...]) -> Any:
    """The fixed/pattern value a slice sets at a discriminator path: on the element at the
    path, or inside a fixed/pattern of an element above it."""
    for depth in range(len(steps), -1, -1):
        target = _child_at(node, steps[:depth])
        if target is None:
            continue
        value = target.fixed if target.fixed is not None else target.pattern
        if value is None:
            continue
        for step in steps[depth:]:
            if isinstance(value, list):
                value = value[0] if value else None
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        return value
    return None


def _prune(node: Node) -> bool:
    """Drop children with no rule anywhere under them; return whether `node` has any."""
    node.children = {k: c for k, c in node.children.items() if _prune(c)}
    for sl in node.slices:
        _prune(sl.node)
        sl.node.active = True  # a slice is always counted
    node.active = bool(
        node.children
        or node.slices
        or node.card_rule
        or node.fixed is not None
        or node.pattern is not None
        or node.binding is not None
        or node.target_profiles
        or node.ext_profile
        or node.invariants
        or node.must_support
        or node.slicing_rules == "closed"
        or (node.choice_keys is not None)
    )
    node.quiet_absent = (
        node.min <= 0 and not node.must_support and not node.slices and not node.choice_prefix
    )
    node.quiet_present = (
        not node.choice_prefix
        and not node.slices
        and node.slicing_rules != "closed"
        and node.fixed is None
        and node.pattern is None
        and not node.target_profiles  # the registry resolves these into `targets`
        and node.binding is None
        and not node.invariants
        and node.ext_profile is None
        and not node.children
    )
    return node.active


def compile_profile(sd: Any, file: str) -> CompiledProfile:
    if not isinstance(sd, dict) or sd.get("resourceType") != "StructureDefinition":
        raise ProfileLoadError(file, None, "not a StructureDefinition")
    for key in ("url", "type"):
        if not isinstance(sd.get(key), str):
            raise ProfileLoadError(file, None, f"StructureDefinition.{key} is missing")
    root = _Compiler(sd, file).compile()
    version = sd.get("version")
    return CompiledProfile(
        url=sd["url"],
        version=version if isinstance(version, str) else None,
        name=str(sd.get("name") or sd["url"].rsplit("/", 1)[-1]),
        type=sd["type"],
        kind=str(sd.get("kind", "resource")),
        file=file,
        root=root,
        definition=sd,
    )


def load_profile(path: Path) -> CompiledProfile:
    try:
        sd = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ProfileLoadError(path.name, None, f"cannot read JSON: {exc}") from exc
    return compile_profile(sd, path.name)
