"""String normalization shared by indexing and querying (case- and accent-insensitive).

``norm`` = NFKD, drop combining marks, casefold, collapse whitespace. ASCII text (the common
case) takes a fast path with the same result. Results are cached: index extraction normalises
the same names, displays and texts over and over (a cache hit is several times cheaper).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=16384)
def norm(text: str) -> str:
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())
