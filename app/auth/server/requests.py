"""authlib's request objects built from a Starlette request whose form was already read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.requests import OAuth2Payload  # type: ignore[import-untyped]

from app.auth.server.tokens import Site


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in items:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth2Request over form (or query) parameters, carrying the request's URLs.

    ``OAuth2Request.__init__`` is not called: it refuses plain-http URLs, and TLS belongs to
    the deployment's proxy (the development server runs on http://localhost).
    """

    def __init__(
        self,
        method: str,
        uri: str,
        items: Sequence[tuple[str, str]],
        *,
        headers: Mapping[str, str],
        site: Site,
        token_url: str,
    ) -> None:
        self.method = method
        self.uri = uri
        self.headers = headers
        self._body = None
        self.payload = FormPayload(items)
        self.client: Any = None
        self.auth_method: str | None = None
        self.user: Any = None
        self.authorization_code: Any = None
        self.refresh_token: Any = None
        self.credential: Any = None
        self._scope: str | None = None
        self.site = site
        self.token_url = token_url

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data
