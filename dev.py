#!/usr/bin/env python3
"""Quick-start runner: `python3 dev.py serve` or `python3 dev.py test`.

Needs only Python 3.11+. It creates ./.venv, installs the project with its development
dependencies (again only when pyproject.toml changes), then runs the service or the tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".install-stamp"
CHROMIUM = Path("/usr/bin/chromium")
FHIR_CLIENT_JS = ROOT / "node_modules" / "fhirclient" / "build" / "fhir-client.js"
FHIR_CLIENT_NPM = "fhirclient@2.6.3"


def ensure_environment() -> None:
    if sys.version_info < (3, 11):
        sys.exit("mitral-fhir needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except subprocess.CalledProcessError:
            sys.exit(
                "could not create .venv with pip: this Python lacks ensurepip "
                "(on Debian/Ubuntu: apt-get install python3-venv)"
            )
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        print("installing mitral-fhir and its dependencies into .venv ...", flush=True)
        subprocess.run(
            [str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"],
            check=True,
        )
        STAMP.write_text(digest)


def _apt_get(*args: str) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    return done.returncode == 0


def ensure_chromium() -> None:
    """The browser tests (tests/web) drive Debian's chromium through Playwright.

    Installed once, quietly, where apt-get runs as root; elsewhere those tests skip.
    """
    if CHROMIUM.exists() or shutil.which("apt-get") is None:
        return
    if getattr(os, "geteuid", lambda: -1)() != 0:
        print("note: /usr/bin/chromium is missing; the browser tests will be skipped", flush=True)
        return
    print("installing chromium for the browser tests ...", flush=True)
    install = ("install", "-y", "-qq", "--no-install-recommends", "chromium")
    if not _apt_get(*install) and not (_apt_get("update", "-qq") and _apt_get(*install)):
        print("note: apt-get could not install chromium; the browser tests will be skipped")


def ensure_fhirclient_js() -> None:
    """The SMART launch tests (tests/auth/e2e) serve npm fhirclient's browser bundle.

    Installed once into ./node_modules (git-ignored; no package.json is written); without npm
    or its registry those tests skip.
    """
    npm = shutil.which("npm")
    if FHIR_CLIENT_JS.exists() or npm is None:
        return
    print(f"installing {FHIR_CLIENT_NPM} for the browser SMART tests ...", flush=True)
    command = [npm, "install", "--prefix", str(ROOT), "--no-save", "--no-audit", "--no-fund"]
    command += ["--ignore-scripts", "--loglevel=error", FHIR_CLIENT_NPM]
    try:
        done = subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, timeout=600
        )
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0:
        print(f"note: npm could not install {FHIR_CLIENT_NPM}; those tests will be skipped")


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("serve", "test"):
        print(__doc__)
        return 2
    ensure_environment()
    command, rest = sys.argv[1], sys.argv[2:]
    os.chdir(ROOT)
    if command == "serve":
        args = [str(BIN / "mitral-fhir"), "serve", "--demo", *rest]
    else:
        ensure_chromium()
        ensure_fhirclient_js()
        args = [str(BIN / "python"), "-m", "pytest", *rest]
    return subprocess.call(args)


if __name__ == "__main__":
    sys.exit(main())
