"""Process, load and environment helpers shared by run.py and profile.py."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
WORK = BENCH / ".work"
VENV_PY = ROOT / ".venv" / "bin" / "python"
OUR_CLI = ROOT / ".venv" / "bin" / "mitral-fhir"
WRK_DIR = BENCH / "wrk"

PEER_PACKAGE = "sekmet-fhir"
PEER_VERSION = "0.1.1"
PEER_VENV = WORK / "peer-venv"
TOOLS_VENV = WORK / "tools-venv"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- installs ---------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk not found: installing it with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, check=False, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed (apt-get install -y wrk)")
    return found


def _venv_with(venv: Path, requirement: str, probe: str) -> Path:
    """A throw-away venv under benchmarks/.work holding ``requirement``; returns its bin/."""
    bin_dir = venv / "bin"
    if not (bin_dir / probe).exists():
        log(f"installing {requirement} into {venv.relative_to(ROOT)}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", requirement],
            check=True,
        )
    return bin_dir


def ensure_peer() -> Path:
    """sekmet-fhir in its own venv (never vendored); returns the venv's bin/."""
    bin_dir = _venv_with(PEER_VENV, f"{PEER_PACKAGE}=={PEER_VERSION}", "sekmet")
    version = subprocess.run(
        [str(bin_dir / "python"), "-c", "import sekmet; print(sekmet.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    log(f"peer: {PEER_PACKAGE} {version} in {PEER_VENV.relative_to(ROOT)}")
    return bin_dir


def ensure_py_spy() -> Path:
    return _venv_with(TOOLS_VENV, "py-spy", "py-spy") / "py-spy"


# --- servers ----------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float = 90.0, any_status: bool = False) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            try:
                response = httpx.get(self.url + path, timeout=2.0)
                if any_status or response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} did not become ready in {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the process group this server's process leads (its uvicorn workers too)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def start_server(
    name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log_path: Path, port: int
) -> Server:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, proc, port, log_path)


def start_ours(
    *, database_url: str, schema: str | None, workers: int, work: Path, tag: str
) -> Server:
    port = free_port()
    # Access control and the audit trail off: the peer has neither, and their cost is
    # measured on its own (security_bench.py). `serve` turns both on by default.
    env = {"MITRAL_FHIR_ACCESS_CONTROL": "false", "MITRAL_FHIR_AUDIT": "false"}
    if schema:
        env["MITRAL_FHIR_DATABASE_SCHEMA"] = schema
    argv = [
        str(OUR_CLI),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database-url",
        database_url,
        "--workers",
        str(workers),
    ]
    server = start_server(
        f"mitral-fhir ({tag})", argv, env=env, cwd=ROOT, log_path=work / f"{tag}.log", port=port
    )
    server.wait_ready("/healthz")
    return server


def start_floor_app(
    *, database_url: str, schema: str | None, workers: int, work: Path, tag: str
) -> Server:
    """The bare ASGI read floor, on uvicorn with the same settings as `mitral-fhir serve`."""
    port = free_port()
    env = {"BENCH_FLOOR_DATABASE_URL": database_url, "BENCH_FLOOR_SCHEMA": schema or ""}
    argv = [
        str(VENV_PY),
        "-m",
        "uvicorn",
        "floor_asgi:create_app",
        "--factory",
        "--app-dir",
        str(BENCH),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "info",
        "--no-access-log",
    ]
    server = start_server(
        f"floor ASGI app ({tag})",
        argv,
        env=env,
        cwd=ROOT,
        log_path=work / f"{tag}.log",
        port=port,
    )
    server.wait_ready("/fhir/Patient/none", any_status=True)
    return server


def start_peer(
    peer_bin: Path, *, work: Path, tag: str = "peer", settings: str | None = None
) -> Server:
    """sekmet-fhir on its own port, from a scratch directory (its SQLite goes to ./data).

    With ``settings`` None it runs on its defaults; otherwise that text is its settings.yaml.
    """
    port = free_port()
    home = work / tag
    home.mkdir(parents=True, exist_ok=True)
    if settings is not None:
        (home / "settings.yaml").write_text(settings)
    argv = [str(peer_bin / "sekmet"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = start_server(
        f"sekmet-fhir ({tag})", argv, env={}, cwd=home, log_path=work / f"{tag}.log", port=port
    )
    server.wait_ready("/fhir/metadata")
    return server


# --- load -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int
    """Non-2xx/3xx responses, timeouts and socket errors."""
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 1),
            "errors": self.errors,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
        }


def wrk(
    url: str,
    script: str,
    script_args: list[str],
    *,
    connections: int,
    duration: float,
    threads: int = 2,
    timeout: int = 10,
) -> WrkResult:
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout}s",
        "--latency",
        "-s",
        str(WRK_DIR / script),
        url,
        "--",
        *script_args,
    ]
    run = subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=duration + timeout + 60
    )
    match = re.search(r"^WRKJSON (\{.*\})$", run.stdout, re.MULTILINE)
    if run.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    data = json.loads(match.group(1))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


# --- the machine ------------------------------------------------------------------------


def _first_line(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if ":" in line else line
    except OSError:
        return None
    return None


def source_state() -> dict[str, str]:
    """Which mitral-fhir code is measured: HEAD, and a digest of app/ as it is on disk."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "app").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json", ".ini", ".mako"):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    changed = subprocess.run(
        [*git, "status", "--porcelain", "--", "app"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "commit": head or "unknown",
        "uncommitted_app_changes": "yes" if changed else "no",
        "app_digest": digest.hexdigest()[:12],
    }


def machine_info() -> dict[str, str]:
    os_name = "unknown"
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    mem_kb = _first_line("/proc/meminfo", "MemTotal") or "0 kB"
    mem_gib = int(mem_kb.split()[0]) / 1024 / 1024
    try:
        found = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk = (found.stdout or found.stderr).split("[")[0].strip()
    except FileNotFoundError:
        wrk = "not installed"
    return {
        "CPU": _first_line("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "Cores (logical)": str(os.cpu_count()),
        "RAM": f"{mem_gib:.1f} GiB",
        "OS": f"{os_name}, Linux {platform.release()}",
        "Python": platform.python_version(),
        "wrk": wrk,
    }
