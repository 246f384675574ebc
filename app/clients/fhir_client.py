"""Our one way to reach an upstream FHIR server (a terminology server, a centre's EPR API, a
registry): httpx, FHIR JSON in and out, failures turned into ``app.clients.errors``.

Retry policy: a request that failed to *connect* (refused, DNS, no route) is tried once more,
whatever its method, because a connect error means no byte of it reached the server, so even
a POST cannot have been applied. Nothing else is retried: a timeout or a broken response may
have been processed upstream.

Credentials (``headers``, or user info in ``base_url``) are sent only to ``base_url``'s origin
(a ``next`` link elsewhere is refused) and never appear in logs or error messages.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from app.clients.errors import BadGateway, GatewayTimeout, error_for_status, outcome_issues

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
ParamValue = str | int | float | bool | Sequence[str]


def redacted(url: str) -> str:
    """``url`` without user info, query or fragment: safe to show and log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _query_value(value: ParamValue) -> str | list[str]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return [str(v) for v in value]


class FhirClient:
    """A FHIR REST client bound to one server's base url.

    Pass ``client`` to share a connection pool (or a respx-mocked one in tests); the caller then
    owns it and ``aclose`` leaves it open.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) base url: {redacted(base_url)!r}")
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.name = name or f"The FHIR server at {redacted(self.base_url)}"
        self._origin = _origin(self.base_url)
        self._headers = {"Accept": FHIR_JSON, **(headers or {})}
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        path = f"{quote(resource_type, safe='')}/{quote(resource_id, safe='')}"
        return await self._send("GET", self.base_url + path)

    async def search(
        self, resource_type: str, params: Mapping[str, ParamValue] | None = None
    ) -> dict[str, Any]:
        """The first page: a searchset Bundle."""
        return await self._send("GET", self.base_url + quote(resource_type, safe=""), params=params)

    async def pages(
        self,
        resource_type: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        max_pages: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every page of a search, following the Bundle's ``next`` links."""
        page = await self.search(resource_type, params)
        seen: set[str] = set()
        count = 1
        while True:
            yield page
            following = _next_link(page)
            if following is None or (max_pages is not None and count >= max_pages):
                return
            if _origin(following) != self._origin:
                raise BadGateway(
                    f"{self.name} gave a next link to another server "
                    f"({redacted(following)}); it was not followed"
                )
            if following in seen:
                raise BadGateway(f"{self.name} gave the same next link twice; paging stopped")
            seen.add(following)
            page = await self._send("GET", following)
            count += 1

    async def operation(
        self,
        path: str,
        params: Mapping[str, ParamValue] | None = None,
        body: dict[str, Any] | None = None,
        method: Literal["GET", "POST"] = "GET",
    ) -> dict[str, Any]:
        """``path`` like ``ValueSet/$expand`` or ``CodeSystem/abc/$lookup``; GET takes
        ``params``, POST takes a ``Parameters`` ``body`` (and may take ``params`` too)."""
        if method == "GET" and body is not None:
            raise ValueError("a GET operation takes no body")
        return await self._send(method, self.base_url + path.lstrip("/"), params, body)

    async def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, ParamValue] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # None, not {}: httpx would replace the query of a next link with an empty one.
        query = {k: _query_value(v) for k, v in params.items()} if params else None
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = FHIR_JSON
        for attempt in (1, 2):
            try:
                response = await self._client.request(
                    method, url, params=query, json=body, headers=headers, timeout=self.timeout
                )
                break
            except httpx.ConnectError as exc:
                log.warning(
                    "%s %s: connect failed (%s), attempt %d",
                    method,
                    redacted(url),
                    type(exc).__name__,
                    attempt,
                )
                if attempt == 2:
                    raise BadGateway(f"{self.name} could not be reached") from exc
            except httpx.TimeoutException as exc:
                log.warning("%s %s: %s", method, redacted(url), type(exc).__name__)
                raise GatewayTimeout(
                    f"{self.name} did not answer within {self.timeout:g} s"
                ) from exc
            except httpx.HTTPError as exc:
                log.warning("%s %s: %s", method, redacted(url), type(exc).__name__)
                raise BadGateway(
                    f"{self.name} failed while answering ({type(exc).__name__})"
                ) from exc
        return self._decode(method, url, response)

    def _decode(self, method: str, url: str, response: httpx.Response) -> dict[str, Any]:
        try:
            found: Any = response.json()
        except ValueError:
            found = None
        if response.is_success:
            if isinstance(found, dict) and isinstance(found.get("resourceType"), str):
                return found
            raise BadGateway(
                f"{self.name} answered HTTP {response.status_code} without a FHIR JSON resource",
                upstream_status=response.status_code,
            )
        log.warning("%s %s: HTTP %d", method, redacted(url), response.status_code)
        raise error_for_status(
            response.status_code,
            self.name,
            outcome_issues(found),
            response.headers.get("Retry-After"),
        )


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or ():
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None
