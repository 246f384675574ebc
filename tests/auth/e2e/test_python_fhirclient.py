"""SMART's Python ``fhirclient`` (4.x) launched against the secured server: it finds the
endpoints in the CapabilityStatement, builds the authorize URL (PKCE S256, ``aud``, ``state``)
and exchanges the code itself; the test only plays the user at the sign-in page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fhirclient import client  # type: ignore[import-untyped]
from fhirclient.models.observation import Observation  # type: ignore[import-untyped]
from fhirclient.models.patient import Patient  # type: ignore[import-untyped]
from fhirclient.server import FHIRNotFoundException  # type: ignore[import-untyped]

from tests.auth.e2e.conftest import (
    OTHER,
    PICKED,
    PICKED_OBSERVATIONS,
    PY_APP,
    SecuredServer,
)
from tests.auth.e2e.signin import sign_in

SCOPE = "openid fhirUser patient/*.rs"


def _smart_client(server: SecuredServer, **settings: str) -> client.FHIRClient:
    return client.FHIRClient(
        settings={
            "app_id": PY_APP,
            "api_base": server.base + "/",
            "redirect_uri": server.site.python_redirect_uri,
            "scope": SCOPE,
            **settings,
        }
    )


def _observation_ids(smart: client.FHIRClient, patient: str) -> set[str]:
    found = Observation.where(struct={"patient": patient}).perform_resources_iter(smart.server)
    return {o.id for o in found}


@pytest.mark.server
def test_a_standalone_launch_reads_the_picked_patient_and_nothing_of_another(
    secured_server: SecuredServer,
) -> None:
    # As apps write it; the library prepends launch/patient again, so the server sees it twice.
    smart = _smart_client(secured_server, scope=f"launch/patient {SCOPE}")
    authorize_url = smart.authorize_url  # fetches /metadata for the oauth-uris
    assert authorize_url.startswith(f"{secured_server.origin}/auth/authorize?")
    sent = parse_qs(urlsplit(authorize_url).query)
    assert sent["code_challenge_method"] == ["S256"]
    assert sent["aud"] == [secured_server.base + "/"]
    assert sent["scope"] == [f"launch/patient launch/patient {SCOPE}"]
    with httpx.Client(timeout=10.0) as browser:
        callback = sign_in(browser, authorize_url, pick=PICKED)
    assert callback.startswith(secured_server.site.python_redirect_uri + "?")

    smart.handle_callback(callback)

    assert smart.ready
    granted = smart.launch_context["scope"].split()
    assert sorted(granted) == sorted(f"launch/patient {SCOPE}".split())  # once each
    assert smart.launch_context["need_patient_banner"] is True
    assert smart.patient_id == PICKED
    patient = smart.patient
    assert patient.id == PICKED
    assert patient.name[0].family == "Okafor"
    assert len(_observation_ids(smart, PICKED)) == PICKED_OBSERVATIONS
    with pytest.raises(FHIRNotFoundException):
        Patient.read(OTHER, smart.server)
    with pytest.raises(FHIRNotFoundException):
        Observation.read("e2e-obs-3", smart.server)
    assert _observation_ids(smart, OTHER) == set()  # searches stay in the compartment
    everyone = Patient.where(struct={}).perform_resources_iter(smart.server)
    assert [p.id for p in everyone] == [PICKED]


@pytest.mark.server
def test_an_ehr_launch_gets_the_ehr_patient_without_the_picker(
    secured_server: SecuredServer,
) -> None:
    launched = httpx.get(
        f"{secured_server.origin}/auth/ehr-launch",
        params={"client_id": PY_APP, "patient": PICKED},
    )
    assert launched.status_code == 302, launched.text
    location = launched.headers["location"]
    assert location.startswith(secured_server.site.python_launch_url + "?")
    given = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert given["iss"] == secured_server.base
    smart = _smart_client(secured_server, api_base=given["iss"], launch_token=given["launch"])
    authorize_url = smart.authorize_url
    assert parse_qs(urlsplit(authorize_url).query)["launch"] == [given["launch"]]
    with httpx.Client(timeout=10.0) as browser:
        callback = sign_in(browser, authorize_url)  # no picker: the EHR chose

    smart.handle_callback(callback)

    assert smart.launch_context["need_patient_banner"] is False
    assert smart.patient.id == PICKED
    assert _observation_ids(smart, PICKED) == {"e2e-obs-1", "e2e-obs-2"}
    with pytest.raises(FHIRNotFoundException):
        Patient.read(OTHER, smart.server)
