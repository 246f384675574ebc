"""String normalization shared by indexing and querying (case- and accent-insensitive).

``norm`` = NFKD, drop combining marks, casefold, collapse whitespace. ASCII text (the common
case) takes a fast path with the same result.
"""

from __future__ import annotations

import unicodedata


def norm(text: str) -> str:
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())
