"""``Measure/{id}/$evaluate-measure``: a MeasureReport of a pathway metric (placeholder)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.errors import NotSupported


async def evaluate_measure(request: Request) -> Response:
    raise NotSupported("$evaluate-measure is not implemented yet")
