"""create_app(): wiring only — routes, error handlers, and the lifespan (database, terminology)."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive, Scope, Send

from app import __version__
from app.auth.audit import audit_trail
from app.auth.discovery import SMART_CONFIGURATION_PATH
from app.auth.discovery import router as smart_discovery_router
from app.auth.server.routes import router as auth_server_router
from app.auth.setup import StartupError as AuthStartupError
from app.auth.setup import build_guard
from app.config import Settings, get_settings
from app.errors import FhirError, Issue, MethodNotAllowed, ResourceNotFound, operation_outcome_bytes
from app.fhir.context import FHIR_PREFIX, FhirContext
from app.fhir.dispatch import FhirDispatcher
from app.fhir.ingest_routes import router as ingest_router
from app.fhir.operations import operation_definitions
from app.fhir.publish import PublishError, publish_terminology
from app.fhir.responses import fhir_response, internal_error_response, outcome_response
from app.fhir.route_access import protect, record_admitted
from app.fhir.router import ROUTES
from app.ingest.mapping.spec import SpecError, load_specs
from app.ingest.pipeline import Ingestor
from app.ingest.services import ingest_services
from app.pathway import derivation
from app.pathway.metrics_api import router as metrics_router
from app.pathway.service import pathway_service
from app.storage.database import create_database
from app.storage.store import ResourceStore
from app.terminology.content import TerminologyContentError
from app.terminology.local import LocalTerminology
from app.terminology.remote import RemoteTerminology
from app.terminology.service import TerminologyService
from app.validation.base_rules import warm_up
from app.validation.definitions import load_definitions
from app.validation.profiles import ProfileLoadError, ProfileRegistry
from app.validation.validator import Validator
from app.web.profile_pages import ProfilePages

log = logging.getLogger("mitral_fhir")


async def _fhir_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    if exc.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        log.error("server error: %s", exc.diagnostics)
    return outcome_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        error: FhirError = MethodNotAllowed(
            f"{request.method} is not allowed on {request.url.path}"
        )
    elif exc.status_code == HTTPStatus.NOT_FOUND:
        error = ResourceNotFound(f"There is nothing at {request.url.path}", issue_code="not-found")
    else:
        error = FhirError(str(exc.detail), status=HTTPStatus(exc.status_code))
    return outcome_response(error)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = [
        Issue("error", "invalid", str(e.get("msg")), (".".join(str(p) for p in e.get("loc", ())),))
        for e in exc.errors()
    ]
    return fhir_response(operation_outcome_bytes(issues), status=HTTPStatus.BAD_REQUEST)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    return internal_error_response(exc)


class StartupError(RuntimeError):
    """A misconfiguration that stops the server, with a message saying what to fix."""


def _local_terminology(settings: Settings) -> LocalTerminology:
    try:
        return LocalTerminology.from_directory(settings.terminology_dir)
    except TerminologyContentError as exc:
        log.error("terminology content is invalid: %s", exc)
        raise StartupError(f"terminology content is invalid: {exc}") from None


def _terminology(
    settings: Settings, local: LocalTerminology
) -> tuple[TerminologyService, RemoteTerminology | None]:
    """The local content, asking the configured remote server about anything it lacks."""
    if not settings.terminology_server_url:
        return local, None
    from app.terminology.fallback import FallbackTerminology

    remote = RemoteTerminology(
        settings.terminology_server_url, timeout=settings.terminology_server_timeout_seconds
    )
    return FallbackTerminology(local, remote), remote


def _canonicals(resources: list[dict[str, Any]]) -> frozenset[str]:
    urls = {r["url"] for r in resources if r.get("url")}
    urls.update(
        f"{r['url']}|{r['version']}" for r in resources if r.get("url") and r.get("version")
    )
    return frozenset(urls)


def _profiles(settings: Settings) -> ProfileRegistry:
    """The compiled profiles; a broken file, or a required profile we lack, stops start-up."""
    try:
        registry = ProfileRegistry.from_directory(settings.profiles_dir)
    except ProfileLoadError as exc:
        log.error("profiles are invalid: %s", exc)
        raise StartupError(f"profiles are invalid: {exc}") from None
    problems = []
    for res_type, url in sorted(settings.all_required_profiles()):
        profile = registry.get(url)
        if profile is None:
            problems.append(f"{url} is not in {settings.profiles_dir}")
        elif profile.type != res_type or profile.kind != "resource":
            problems.append(f"{url} is a profile of {profile.type}, not {res_type}")
    if problems:
        raise StartupError("MITRAL_FHIR_REQUIRED_PROFILES: " + "; ".join(problems))
    return registry


async def _publish(ctx: FhirContext, resources: list[dict[str, Any]]) -> None:
    try:
        published = await publish_terminology(ctx, resources)
    except PublishError as exc:
        log.error("terminology content cannot be published: %s", exc)
        raise StartupError(f"terminology content cannot be published: {exc}") from None
    log.info(
        "terminology: %d resources published (%d new, %d changed)",
        len(published.created) + len(published.updated) + len(published.unchanged),
        len(published.created),
        len(published.updated),
    )


def _ingestor(ctx: FhirContext, settings: Settings, local: LocalTerminology) -> Ingestor | None:
    """The per-centre mappings; a broken mapping file stops start-up, naming the file."""
    if not settings.mappings_dir.is_dir():
        log.warning("no mappings directory at %s: ingest is off", settings.mappings_dir)
        return None
    try:
        specs = load_specs(settings.mappings_dir)
    except SpecError as exc:
        raise StartupError(f"mapping is invalid: {exc}") from None
    return Ingestor(ctx, specs, local)


async def _auth_server(ctx: FhirContext) -> Any:
    """The embedded authorization server, unless an external issuer is trusted instead."""
    if not ctx.settings.embedded_auth_server:
        return None
    from app.auth.server import build_auth_server
    from app.auth.server.registry import RegistryError

    try:
        return await build_auth_server(ctx)
    except RegistryError as exc:
        raise StartupError(str(exc)) from None


class MitralApp(FastAPI):
    """FastAPI for the lifespan, health and docs; FHIR traffic goes straight to the dispatcher.

    Skipping FastAPI's middleware stack and router for /fhir halves the cost of a read by id
    (see app/fhir/dispatch.py).
    """

    fhir: FhirDispatcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and self.fhir.handles(path)
            and path != SMART_CONFIGURATION_PATH  # a FastAPI route (app/auth/discovery.py)
        ):
            scope["app"] = self
            await self.fhir(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await super().__call__(scope, receive, send_status)
        finally:
            record_admitted(scope, status)


def create_app(settings: Settings | None = None) -> MitralApp:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:  # whom to trust: decided before anything is opened
            app.state.guard = build_guard(settings, app.state)
        except AuthStartupError as exc:
            raise StartupError(str(exc)) from None
        local = _local_terminology(settings)  # before the database: bad content stops here
        resources = local.resources()
        registry = _profiles(settings)
        app.state.profile_pages = ProfilePages.build(settings.profiles_dir)
        db = create_database(
            settings.database_url,
            schema=settings.database_schema,
            pool_size=settings.database_pool_size,
            query_timeout=settings.query_timeout_seconds,
            sqlite_cache_mib=settings.sqlite_cache_mib,
        )
        await db.open()
        load_definitions()  # the validator's element table: load now, not on the first write
        warm_up()  # compile the base R4 invariants and binding lists (~0.6 s) now, too
        terminology, remote = _terminology(settings, local)
        ctx = FhirContext(
            settings=settings,
            db=db,
            store=ResourceStore(db),
            terminology=terminology,
            validator=Validator(registry, terminology),
            terminology_urls=_canonicals(resources),
        )
        app.state.fhir = ctx
        app.state.ingestor = _ingestor(ctx, settings, local)
        app.state.auth_server = None
        try:
            await _publish(ctx, [*resources, *operation_definitions()])
            if settings.demo_data:
                from app.demo.loader import load_demo_data

                await load_demo_data(ctx)
                if app.state.ingestor is not None:
                    from app.demo.feeds import load_demo_feeds

                    await load_demo_feeds(app.state.ingestor)
                await derivation.drain(ctx)  # the demo opens with every pathway derived
            app.state.auth_server = await _auth_server(ctx)
            # Start-up leaves ~180,000 long-lived objects (definitions, compiled invariants,
            # terminology); a full collection walks them all (~0.2 s) and stalls every request
            # in flight. Frozen, the collector skips them.
            gc.collect()
            gc.freeze()
            async with (
                audit_trail(ctx, settings) as audit,  # first in, last out: flushes at the end
                ingest_services(app.state.ingestor, settings) as services,
                pathway_service(ctx, settings),
            ):
                app.state.audit = audit
                app.state.ingest_services = services
                yield
        finally:
            if app.state.auth_server is not None:
                await app.state.auth_server.close()
            if remote is not None:
                await remote.aclose()
            await db.close()

    app = MitralApp(
        title="mitral-fhir",
        version=__version__,
        description="FHIR R4 (4.0.1) service for the regional mitral valve network",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.fhir = FhirDispatcher(ROUTES, FHIR_PREFIX)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.api_route("/profiles", methods=["GET", "HEAD"], include_in_schema=False)
    async def profile_index(request: Request) -> Response:
        pages: ProfilePages = request.app.state.profile_pages
        return HTMLResponse(pages.index)

    @app.api_route("/profiles/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def profile_page(request: Request, name: str) -> Response:
        pages: ProfilePages = request.app.state.profile_pages
        page = pages.pages.get(name)
        if page is None:
            return HTMLResponse(pages.not_found(name), status_code=HTTPStatus.NOT_FOUND)
        return HTMLResponse(page)

    app.include_router(ingest_router, dependencies=[Depends(protect("ingest"))])
    app.include_router(
        metrics_router, dependencies=[Depends(protect("metrics", "MeasureReport", "r"))]
    )
    if settings.embedded_auth_server:  # else /auth is not served
        app.include_router(auth_server_router)
    app.include_router(smart_discovery_router)
    app.add_exception_handler(FhirError, _fhir_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    return app
