"""The /profiles documentation: rendered from profiles/build, driven in a real headless
Chromium (Playwright) against a real server, plus the pure renderer's escaping."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.web.profile_doc import read_doc
from app.web.profile_markdown import profile_markdown
from app.web.profile_pages import ProfilePages, profile_page
from tests.server.conftest import Server, server  # noqa: F401  (the real-uvicorn fixture)

ROOT = Path(__file__).resolve().parents[2]


def site(running: Server) -> str:
    return running.base.removesuffix("/fhir")


@pytest.mark.server
async def test_the_index_links_to_mv_referral_whose_table_shows_authored_on_and_its_binding(
    page: Any,
    server: Server,  # noqa: F811
) -> None:
    response = await page.goto(site(server) + "/profiles")
    assert response.status == 200
    assert await page.title() == "Regional profiles"
    await page.get_by_role("link", name="MV-Referral", exact=True).click()
    await page.wait_for_url("**/profiles/MV-Referral")
    assert await page.locator("h1").inner_text() == "MV-Referral"

    authored = page.locator('tr[data-element="ServiceRequest.authoredOn"]')
    assert await authored.locator("td.card").inner_text() == "1..1"
    code = page.locator('tr[data-element="ServiceRequest.code"]')
    binding = code.locator("td.binding")
    assert "required" in await binding.inner_text()
    link = binding.get_by_role("link")
    assert (await link.inner_text()).endswith("/ValueSet/referral-codes")
    href = await link.get_attribute("href")
    assert href.startswith("/fhir/ValueSet?url=")

    await link.click()  # the link reaches the ValueSet on the same server
    await page.wait_for_load_state()
    searched = await page.locator("body").inner_text()
    assert "referral-codes" in searched


@pytest.mark.server
async def test_an_unknown_profile_gets_a_404_page(page: Any, server: Server) -> None:  # noqa: F811
    response = await page.goto(site(server) + "/profiles/MV-Nothing")
    assert response.status == 404
    assert await page.locator("h1").inner_text() == "Profile not found"
    assert "MV-Nothing" in await page.locator("main").inner_text()
    await page.get_by_role("link", name="all profiles", exact=True).click()
    await page.wait_for_url("**/profiles")
    assert await page.get_by_role("link", name="MV-Patient", exact=True).count() == 1


@pytest.mark.server
async def test_pages_are_served_as_html(server: Server) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=site(server)) as client:
        response = await client.get("/profiles/MV-Patient")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<script" not in response.text


def test_every_built_profile_has_a_page_and_every_example_is_shown() -> None:
    pages = ProfilePages.build(ROOT / "profiles" / "build")
    built = {
        p.name.removeprefix("StructureDefinition-").removesuffix(".json")
        for p in (ROOT / "profiles" / "build").glob("*.json")
    }
    assert set(pages.pages) == built
    assert 'id="mv-referral-example"' not in pages.pages["MV-Referral"]  # escaped, not markup
    assert "&quot;mv-referral-example&quot;" in pages.pages["MV-Referral"]


def test_text_from_a_structure_definition_is_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    definition = {
        "resourceType": "StructureDefinition",
        "url": "https://example.org/StructureDefinition/X-Test",
        "name": "XTest",
        "title": hostile,
        "description": hostile,
        "type": "Patient",
        "snapshot": {
            "element": [
                {"id": "Patient", "path": "Patient", "min": 0, "max": "*", "short": hostile},
                {
                    "id": "Patient.gender",
                    "path": "Patient.gender",
                    "min": 1,
                    "max": "1",
                    "type": [{"code": "code"}],
                    "binding": {"strength": "required", "valueSet": 'https://x.org/"><b>'},
                },
            ]
        },
    }
    html = profile_page(read_doc(definition), set())
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '"><b>' not in html
    assert "1..1" in html


def test_markdown_keeps_a_pipe_in_a_value_inside_its_table_cell() -> None:
    definition = {
        "resourceType": "StructureDefinition",
        "url": "https://example.org/StructureDefinition/X-Pipes",
        "type": "Patient",
        "snapshot": {
            "element": [
                {"id": "Patient", "path": "Patient", "min": 0, "max": "*"},
                {
                    "id": "Patient.gender",
                    "path": "Patient.gender",
                    "min": 1,
                    "max": "1",
                    "short": "male | female | other | unknown",
                },
            ]
        },
    }
    page = profile_markdown(read_doc(definition), set())
    row = next(line for line in page.splitlines() if "gender" in line)
    assert len(re.split(r"(?<!\\)\|", row)) == 9  # seven cells between eight bare pipes
    assert "male \\| female \\| other \\| unknown" in row
