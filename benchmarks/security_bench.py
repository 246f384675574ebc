#!/usr/bin/env python3
"""What security costs a read: token validation and scope checks per request, and read
throughput with access control on versus off, in the same run.

    python3 benchmarks/security_bench.py            # about 2 minutes
    python3 benchmarks/security_bench.py --seconds 4 --rounds 1 --no-write   # smoke

Two parts, both against figures from the same run:
- in process (one core): the p50 of the resource server's per-request work (the token
  checked against the cached verification, expiry, issuer, audience, revocation, then the
  route's scope decision), of a first verification (RSA signature, claims parse), and of
  ``orjson.loads`` of the same Patient's stored bytes as the yardstick;
- over HTTP: ``GET /fhir/Patient/{id}`` by wrk (32 connections, one uvicorn worker, SQLite)
  on one database, served in turn with access control off, on (a Backend Services token
  from the embedded server, ``system/*.rs``) and on with the audit trail; the rounds are
  interleaved so drift hits every configuration alike.
The figures go to the ``security-bench`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap import ensure_project_venv

if __name__ == "__main__":
    ensure_project_venv(__file__)

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from typing import Any

import harness
import httpx
import orjson
import sections
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

START, END = sections.markers("security-bench")
CONFIGS = (
    (
        "off",
        "access control off",
        {"MITRAL_FHIR_ACCESS_CONTROL": "false", "MITRAL_FHIR_AUDIT": "false"},
    ),
    ("on", "on (token + scopes), audit off", {"MITRAL_FHIR_AUDIT": "false"}),
    ("audit", "on, with the audit trail", {"MITRAL_FHIR_AUDIT": "true"}),
)


def _micro(samples: int) -> dict[str, float]:
    """Nanoseconds (p50) of the per-request checks, in this process."""
    from app.auth.guard import check_route
    from app.auth.tokens import TokenVerifier

    key = RSAKey.generate_key(2048, parameters={"kid": "bench"}, private=True)
    keys = KeySet([RSAKey.import_key(key.as_dict(private=False))])
    base, issuer = "http://127.0.0.1/fhir", "http://127.0.0.1/auth"

    def token() -> str:
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": base,
            "sub": "bench",
            "client_id": "bench",
            "exp": now + 600,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "scope": "system/*.rs",
        }
        return jwt.encode({"alg": "RS256", "kid": "bench", "typ": "at+jwt"}, claims, key)

    verifier = TokenVerifier(keys=lambda: keys, is_revoked=lambda _jti: False)
    patient = orjson.dumps(
        {
            "resourceType": "Patient",
            "id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "meta": {"versionId": "1", "lastUpdated": "2026-12-03T10:00:00.000Z"},
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
            "name": [{"family": "Okafor", "given": ["Adaeze"]}],
            "gender": "female",
            "birthDate": "1948-07-19",
        }
    )
    loop = asyncio.new_event_loop()
    warm = token()
    loop.run_until_complete(verifier.verify(warm, issuer=issuer, audience=base))
    params = {"type": "Patient", "id": "x"}

    async def checked(text: str) -> None:
        principal = await verifier.verify(text, issuer=issuer, audience=base)
        check_route(principal, "read", "", params, {})

    async def timed_async(run: Any) -> float:
        found = []
        for _ in range(samples):
            start = time.perf_counter_ns()
            await run()
            found.append(time.perf_counter_ns() - start)
        return float(statistics.median(found))

    def timed(run: Any) -> float:
        found = []
        for _ in range(samples):
            start = time.perf_counter_ns()
            run()
            found.append(time.perf_counter_ns() - start)
        return float(statistics.median(found))

    async def cold() -> float:
        found = []
        for text in [token() for _ in range(min(samples, 2000))]:
            start = time.perf_counter_ns()
            await verifier.verify(text, issuer=issuer, audience=base)
            found.append(time.perf_counter_ns() - start)
        return float(statistics.median(found))

    figures = {
        "warm_ns": loop.run_until_complete(timed_async(lambda: checked(warm))),
        "cold_ns": loop.run_until_complete(cold()),
        "orjson_ns": timed(lambda: orjson.loads(patient)),
    }
    loop.close()
    return figures


def _seed(url: str, count: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for start in range(0, count, 100):
            entries = []
            for n in range(start, min(start + 100, count)):
                res_id = f"bench-{n:05d}"
                ids.append(res_id)
                entries.append(
                    {
                        "resource": {
                            "resourceType": "Patient",
                            "id": res_id,
                            "name": [{"family": f"Family{n}", "given": ["Sam"]}],
                            "gender": "unknown",
                            "birthDate": "1950-01-01",
                        },
                        "request": {"method": "PUT", "url": f"Patient/{res_id}"},
                    }
                )
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            response = http.post("/fhir", json=bundle)
            response.raise_for_status()
    return ids


def _register_client(env: dict[str, str], work: Path) -> ECKey:
    key = ECKey.generate_key("P-384", parameters={"kid": "bench-es384"}, private=True)
    jwks = work / "bench-jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    subprocess.run(
        [
            str(harness.ROOT / ".venv" / "bin" / "mitral-fhir"),
            "clients",
            "add",
            "--id",
            "bench-backend",
            "--type",
            "asymmetric",
            "--jwks-file",
            str(jwks),
            "--scope",
            "system/*.rs",
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return key


def _token(url: str, key: ECKey) -> str:
    token_url = f"{url}/auth/token"
    now = int(time.time())
    claims = {
        "iss": "bench-backend",
        "sub": "bench-backend",
        "aud": token_url,
        "exp": now + 240,
        "jti": uuid.uuid4().hex,
    }
    header = {"alg": "ES384", "kid": key.kid, "typ": "JWT"}
    assertion = jwt.encode(header, claims, key, algorithms=["ES384"])
    response = httpx.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "scope": "system/*.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def _serve(env: dict[str, str], work: Path, tag: str) -> harness.Server:
    port = harness.free_port()
    argv = [
        str(harness.OUR_CLI),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    server = harness.start_server(
        f"mitral-fhir ({tag})",
        argv,
        env={**env, "MITRAL_FHIR_LOG_LEVEL": "warning"},
        cwd=harness.ROOT,
        log_path=work / f"{tag}.log",
        port=port,
    )
    server.wait_ready("/healthz")
    return server


def _http(args: argparse.Namespace, work: Path) -> dict[str, list[dict[str, float]]]:
    base_env = {
        "MITRAL_FHIR_DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "MITRAL_FHIR_AUTH_CLIENTS_FILE": str(work / "clients.json"),
        "MITRAL_FHIR_AUTH_KEYS_FILE": str(work / "keys.json"),
        "MITRAL_FHIR_PATHWAY_BACKGROUND": "false",
        "MITRAL_FHIR_INGEST_BACKGROUND": "false",
        "MITRAL_FHIR_ACCESS_CONTROL": "true",
    }
    key = _register_client(base_env, work)
    server = _serve({**base_env, **CONFIGS[0][2]}, work, "seed")
    try:
        ids = _seed(server.url, args.patients)
    finally:
        server.stop()
    paths = work / "paths.txt"
    paths.write_text("".join(f"/fhir/Patient/{i}\n" for i in ids))
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in CONFIGS}
    for round_no in range(args.rounds):
        for name, _, env in CONFIGS:
            server = _serve({**base_env, **env}, work, f"{name}-{round_no}")
            try:
                extra = [] if name == "off" else [_token(server.url, key)]
                harness.wrk(
                    server.url, "get_paths.lua", [str(paths), *extra], connections=32, duration=2
                )
                found = harness.wrk(
                    server.url,
                    "get_paths.lua",
                    [str(paths), *extra],
                    connections=32,
                    duration=args.seconds,
                )
                if found.errors:
                    raise RuntimeError(f"{name}: {found.errors} errors:\n{server.tail()}")
                harness.log(f"{name} round {round_no}: {found.rate:,.0f} reads/s")
                results[name].append({"rate": found.rate, "p50_ms": found.p50_ms})
            finally:
                server.stop()
    return results


def _section(micro: dict[str, float], http: dict[str, list[dict[str, float]]], args: Any) -> str:
    machine = harness.machine_info()
    best = {name: max(r["rate"] for r in runs) for name, runs in http.items()}
    p50 = {name: statistics.median(r["p50_ms"] for r in runs) for name, runs in http.items()}
    lines = [
        START,
        "## Security (issue 8)",
        "",
        f"`python3 benchmarks/security_bench.py` on {dt.date.today().isoformat()}, "
        f"{machine['CPU']} ({machine['Cores (logical)']} cores), {machine['OS']}. "
        f"{args.patients:,} Patients on SQLite, one uvicorn worker, wrk with 32 connections "
        f"for {args.seconds:.0f} s per run, {args.rounds} interleaved rounds (best round "
        "shown, p50 the median of the rounds).",
        "",
        "Per request, in process (p50, one core):",
        "",
        "| Step | p50 | vs `orjson.loads` of the Patient |",
        "|---|---|---|",
        f"| token (cached verification) + expiry, issuer, audience, revocation + scope "
        f"decision | {micro['warm_ns'] / 1000:.1f} µs | "
        f"{micro['warm_ns'] / micro['orjson_ns']:.1f}x |",
        f"| first sight of a token: RS256 signature and claims | "
        f"{micro['cold_ns'] / 1000:.1f} µs | {micro['cold_ns'] / micro['orjson_ns']:.1f}x |",
        f"| `orjson.loads` of the stored Patient (yardstick) | "
        f"{micro['orjson_ns'] / 1000:.1f} µs | 1x |",
        "",
        "Read by id over HTTP, same database and run:",
        "",
        "| Access control | reads/s | vs off | p50 latency |",
        "|---|---|---|---|",
    ]
    for name, label, _ in CONFIGS:
        change = best[name] / best["off"] - 1
        lines.append(f"| {label} | {best[name]:,.0f} | {change:+.1%} | {p50[name]:.2f} ms |")
    loss = 1 - best["on"] / best["off"]
    verdict = "met" if loss <= 0.10 else "missed"
    lines += [
        "",
        f"Target: at most 10 % throughput lost with security on: {loss:.1%} lost ({verdict}). "
        "The audit row adds one AuditEvent per read, written in batches in the background "
        "(docs/audit.md).",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--output", type=Path, default=harness.ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    harness.ensure_wrk()
    micro = _micro(args.samples)
    harness.log(f"in process: {micro}")
    with tempfile.TemporaryDirectory(prefix="security-bench-") as folder:
        http = _http(args, Path(folder))
    section = _section(micro, http, args)
    if args.no_write:
        print(section)
    else:
        sections.write(args.output, "security-bench", section)
        harness.log(f"wrote the security section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
