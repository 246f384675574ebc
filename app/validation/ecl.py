"""A syntax check for the simple forms of SNOMED CT Expression Constraint Language (ECL).

ValueSets select SNOMED CT concepts with a ``constraint`` filter holding ECL
(``<< 48724000 |Mitral regurgitation| MINUS < 7054007``). This checks the compound form
only: concept references (SCTID with optional ``|term|``) or ``*``, each with constraint
operators (``<``, ``<<``, ``<!``, ``<<!``, ``>``, ``>>``, ``>!``, ``>>!``, ``^``), joined by
AND / OR / MINUS / ``,`` and grouped in parentheses. Refinements, cardinalities, dotted
attributes, filters and other advanced forms are not judged (None), so a valid expression
is never refused; one that is not even a well-formed sequence of concepts and operators is.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ecl_problem"]

_ADVANCED: Final = re.compile(r"[:{}\[\].#\"@=]|\bR\b|!!")
_TOKEN: Final = re.compile(
    r"\s*(?:(?P<concept>\d+)\s*(?:\|[^|]*\|)?|(?P<op><<!|>>!|<<|>>|<!|>!|<|>|\^)"
    r"|(?P<conj>AND\b|OR\b|MINUS\b|,)|(?P<paren>[()])|(?P<any>\*)|(?P<bad>\S))",
    re.IGNORECASE,
)


class _Invalid(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is None:
            continue
        out.append((kind, match.group(kind)))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def expression(self) -> None:
        self.sub()
        while (token := self.peek()) is not None and token[0] == "conj":
            self.pos += 1
            self.sub()

    def sub(self) -> None:
        while (token := self.peek()) is not None and token[0] == "op":
            self.pos += 1
        token = self.peek()
        if token is None:
            raise _Invalid("a concept is missing at the end")
        self.pos += 1
        if token[0] in ("concept", "any"):
            return
        if token == ("paren", "("):
            self.expression()
            if self.peek() != ("paren", ")"):
                raise _Invalid("a parenthesis is not closed")
            self.pos += 1
            return
        raise _Invalid(f"a concept is expected, not '{token[1]}'")


def ecl_problem(text: str) -> str | None:
    """Why ``text`` is not ECL, or None (valid, or a form this check does not judge)."""
    if _ADVANCED.search(text):
        return None
    parser = _Parser(_tokens(text))
    try:
        parser.expression()
        if (token := parser.peek()) is not None:
            raise _Invalid(f"'{token[1]}' cannot follow a complete expression")
    except _Invalid as exc:
        return f"invalid ECL '{text}': {exc}"
    return None
