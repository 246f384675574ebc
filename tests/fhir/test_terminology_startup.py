"""Start-up wiring: bad content stops the server with the loader's message; a configured remote
terminology server answers over HTTP for what our content does not hold, and its failures
come back as 502/504 OperationOutcomes."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx

from app.config import Settings
from app.fhir.context import FhirContext
from app.main import StartupError, create_app
from app.terminology.fallback import FallbackTerminology
from tests.conftest import Backend

CONTENT = Path(__file__).resolve().parents[2] / "terminology"
REMOTE = "https://tx.example.org/fhir"
SNOMED = "http://snomed.info/sct"
BASE = "https://fhir.southlondon-mitral.nhs.uk"


def _broken_copy(tmp_path: Path) -> Path:
    """Our content, with one ConceptMap target code that OPCS-4 does not have."""
    copied = tmp_path / "terminology"
    shutil.copytree(CONTENT, copied)
    path = copied / "conceptmaps" / "local-kings.json"
    concept_map = json.loads(path.read_text(encoding="utf-8"))
    group = next(i for i, g in enumerate(concept_map["group"]) if "OPCS-4" in g["target"])
    concept_map["group"][group]["element"][0]["target"][0]["code"] = "K99.9"
    path.write_text(json.dumps(concept_map), encoding="utf-8")
    return copied


async def test_invalid_content_stops_start_up_naming_file_and_element(backend, tmp_path):
    application = create_app(backend.settings(terminology_dir=_broken_copy(tmp_path)))

    with pytest.raises(StartupError) as raised:
        async with application.router.lifespan_context(application):
            pass  # pragma: no cover - start-up must fail

    message = str(raised.value)
    assert "conceptmaps/local-kings.json" in message
    assert "'K99.9' is not in http://fhir.hl7.org.uk/CodeSystem/OPCS-4" in message
    assert ".target[0].code" in message


@pytest.fixture
async def with_remote(backend: Backend) -> AsyncIterator[tuple[httpx.AsyncClient, respx.Router]]:
    settings: Settings = backend.settings(
        terminology_server_url=REMOTE, terminology_server_timeout_seconds=2.0
    )
    application = create_app(settings)
    with respx.mock(base_url=REMOTE, assert_all_called=False) as router:
        async with application.router.lifespan_context(application):
            ctx: FhirContext = application.state.fhir
            assert isinstance(ctx.terminology, FallbackTerminology)
            transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver/fhir/"
            ) as client:
                yield client, router


async def test_a_code_outside_our_snomed_subset_is_looked_up_remotely(with_remote):
    client, router = with_remote
    answer = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "name", "valueString": "SNOMED CT"},
            {"name": "display", "valueString": "Aortic valve stenosis"},
        ],
    }
    route = router.get("/CodeSystem/$lookup").mock(return_value=httpx.Response(200, json=answer))

    response = await client.get("CodeSystem/$lookup", params={"system": SNOMED, "code": "60573004"})

    assert response.status_code == 200, response.text
    display = next(p["valueString"] for p in response.json()["parameter"] if p["name"] == "display")
    assert display == "Aortic valve stenosis"
    assert route.call_count == 1
    assert route.calls[0].request.url.params["code"] == "60573004"


async def test_our_own_codes_never_go_to_the_remote(with_remote):
    client, router = with_remote
    route = router.route().mock(return_value=httpx.Response(500))

    response = await client.get(
        "ValueSet/$validate-code",
        params={"url": f"{BASE}/ValueSet/mr-conditions", "system": SNOMED, "code": "48724000"},
    )

    assert response.status_code == 200
    assert response.json()["parameter"][0] == {"name": "result", "valueBoolean": True}
    assert route.call_count == 0


async def test_a_failing_remote_is_a_502(with_remote):
    client, router = with_remote
    router.get("/CodeSystem/$lookup").mock(return_value=httpx.Response(500, text="oops"))

    response = await client.get("CodeSystem/$lookup", params={"system": SNOMED, "code": "60573004"})

    assert response.status_code == 502
    assert response.json()["issue"][0]["code"] == "exception"


async def test_a_remote_that_does_not_answer_in_time_is_a_504(with_remote):
    client, router = with_remote
    router.get("/ValueSet/$expand").mock(side_effect=httpx.ReadTimeout("slow"))

    response = await client.get(
        "ValueSet/$expand", params={"url": "http://example.org/fhir/ValueSet/elsewhere"}
    )

    assert response.status_code == 504
    assert response.json()["issue"][0]["code"] == "timeout"
