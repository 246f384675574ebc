"""Where a terminology resource is wrong, said once so loading and inline requests agree.

Loaded content turns problems into one ``TerminologyContentError`` (file + FHIRPath per line);
a resource given inline in a request turns them into a 422 the client can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import Issue, Unprocessable


@dataclass(frozen=True, slots=True)
class ContentProblem:
    file: str
    """Path of the file relative to the content directory's parent, or ``request`` inline."""
    element: str
    """FHIRPath of the offending element, e.g. ``ConceptMap.group[0].element[3].target[0].code``."""
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.element}: {self.message}"


class TerminologyContentError(Exception):
    """The content directory cannot be served; lists every problem found, not just the first."""

    def __init__(self, problems: list[ContentProblem]) -> None:
        self.problems = tuple(problems)
        if len(problems) == 1:
            text = str(problems[0])
        else:
            lines = "\n".join(f"- {p}" for p in problems)
            text = f"{len(problems)} problems in the terminology content:\n{lines}"
        super().__init__(text)


def unprocessable(problems: list[ContentProblem]) -> Unprocessable:
    """Inline resources in a request: the same checks, answered as a 422."""
    issues = [Issue("error", "processing", p.message, (p.element,)) for p in problems]
    head = problems[0]
    return Unprocessable(head.message, (head.element,), issues=issues)
