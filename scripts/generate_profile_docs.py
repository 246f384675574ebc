"""Regenerate docs/profiles/ (one markdown page per profile, and an index) from the built
StructureDefinitions in profiles/build/ and the valid examples in profiles/examples/valid/.

The service renders the same records as HTML under /profiles (app/web/profile_pages.py).

Usage (from the repository root, in the project's virtualenv):

    python scripts/generate_profile_docs.py           # rewrite docs/profiles/
    python scripts/generate_profile_docs.py --check   # exit 1 if docs/profiles/ is stale

``tests/test_docs.py`` runs ``--check``, so CI fails when a profile changes and its page does
not. Run it after ``python3 scripts/build_profiles.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.web.profile_doc import load_docs
from app.web.profile_markdown import index_markdown, profile_markdown

ROOT = Path(__file__).resolve().parent.parent

BUILD = ROOT / "profiles" / "build"
EXAMPLES = ROOT / "profiles" / "examples" / "valid"
OUT = ROOT / "docs" / "profiles"


def render() -> dict[str, str]:
    """File name -> content of every page docs/profiles/ should hold."""
    docs = load_docs(BUILD, EXAMPLES)
    names = {d.name for d in docs}
    pages = {f"{d.name}.md": profile_markdown(d, names) for d in docs}
    pages["README.md"] = index_markdown(docs)
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/profiles is stale")
    args = parser.parse_args()
    pages = render()
    existing = {p.name for p in OUT.glob("*.md")} if OUT.is_dir() else set()
    stale = sorted(
        name
        for name, text in pages.items()
        if not (OUT / name).is_file() or (OUT / name).read_text(encoding="utf-8") != text
    )
    extra = sorted(existing - set(pages))
    if args.check:
        if stale or extra:
            print(
                "docs/profiles is stale (run `python scripts/generate_profile_docs.py`): "
                + ", ".join([*stale, *(f"{n} (no such profile)" for n in extra)]),
                file=sys.stderr,
            )
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name in extra:
        (OUT / name).unlink()
    for name in stale:
        (OUT / name).write_text(pages[name], encoding="utf-8")
    print(f"docs/profiles: {len(pages)} pages, {len(stale)} written, {len(extra)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
