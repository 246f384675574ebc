"""Per-resource cost of parsing, the compiled R4 walk and the R4B models (ADR 0004 figures).

Run: `.venv/bin/python tests/validation/bench_structural.py`. Not collected by pytest; the
numbers depend on the machine, so they are recorded in the ADR rather than asserted.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.validation.models import validate_with_r4b
from app.validation.structural import validate_structure
from tests.validation import uk_examples

ROUNDS = 7


def per_call_us(fn: Callable[[], Any]) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    runs = timer.repeat(repeat=ROUNDS, number=number)
    return min(runs) / number * 1e6


def main() -> None:
    builders = {
        "Patient": uk_examples.patient,
        "ServiceRequest": uk_examples.service_request,
        "Procedure": uk_examples.procedure,
    }
    validate_structure(uk_examples.patient())  # load the definitions outside the timing
    header = f"{'resource':16} {'bytes':>6} {'orjson':>8} {'R4 walk':>8} {'R4B':>8}"
    print(f"{header}  (µs per resource, best of {ROUNDS} rounds)")  # noqa: T201
    for name, build in builders.items():
        resource = build()
        raw = orjson.dumps(resource)
        assert not [i for i in validate_structure(resource) if i.severity == "error"]
        assert not validate_with_r4b(resource)
        t_parse = per_call_us(partial(orjson.loads, raw))
        t_walk = per_call_us(partial(validate_structure, resource))
        t_r4b = per_call_us(partial(validate_with_r4b, resource))
        print(f"{name:16} {len(raw):>6} {t_parse:>8.1f} {t_walk:>8.1f} {t_r4b:>8.1f}")  # noqa: T201


if __name__ == "__main__":
    main()
