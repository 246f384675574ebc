"""TtlCache: bounded and expiring, on an injected clock (no sleeping)."""

from __future__ import annotations

from app.clients.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_expires_after_its_ttl():
    clock = Clock()
    cache: TtlCache[str] = TtlCache(max_size=10, ttl_seconds=600, clock=clock)
    cache.put(("http://snomed.info/sct", "48724000"), "Mitral valve regurgitation")

    clock.now += 599
    assert cache.get(("http://snomed.info/sct", "48724000")) == "Mitral valve regurgitation"
    clock.now += 1
    assert cache.get(("http://snomed.info/sct", "48724000")) is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_when_full():
    cache: TtlCache[int] = TtlCache(max_size=2, ttl_seconds=600, clock=Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)

    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)


def test_size_zero_disables_caching():
    cache: TtlCache[int] = TtlCache(max_size=0, clock=Clock())
    cache.put("a", 1)
    assert cache.get("a") is None
