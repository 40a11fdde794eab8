"""The explorer's web page in a real browser: Debian's chromium, headless, through Selenium.

Screenshots of the call page and the overview are saved under
``test-artifacts/explorer/`` for people to look at.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from processor.settings import Settings
from tests.integration.conftest import ReadTopic, _in_ci
from tests.integration.explorer.conftest import eventually, get_json, running_explorer
from tests.integration.explorer.test_explorer import _run_pipeline, scenario

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "explorer"


def _binary(*names: str) -> str | None:
    for name in names:
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless chromium at a laptop's window size."""
    chromium, driver = _binary("chromium", "chromium-browser"), _binary("chromedriver")
    if chromium is None or driver is None:
        reason = "chromium and chromium-driver are not installed (make tools installs them)"
        if _in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1366,1500", "--disable-gpu", "--lang=en-GB"):  # fmt: skip
        options.add_argument(argument)
    try:
        chrome = webdriver.Chrome(service=Service(driver), options=options)
    except WebDriverException as exc:
        if _in_ci():
            pytest.fail(f"chromium did not start: {exc}", pytrace=False)
        pytest.skip(f"chromium did not start: {exc}")
    chrome.implicitly_wait(5)
    try:
        yield chrome
    finally:
        chrome.quit()


class TestWebPage:
    async def test_search_a_call_see_its_timeline_and_filter_the_list(
        self,
        settings: Settings,
        read_topic: ReadTopic,
        browser: webdriver.Chrome,
        tmp_path: Path,
    ) -> None:
        """A user opens the overview, types a callId in the search box, lands on the call
        page with its timeline and its error spelled out, then filters the call list by
        outcome; screenshots of the call page and the overview are saved."""
        s = settings.model_copy(update={"explorer_port": 0, "explorer_db_path": tmp_path / "x.db"})
        bodies = scenario()
        await _run_pipeline(s, bodies, read_topic)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        async with running_explorer(s) as explorer:
            async with httpx.AsyncClient(base_url=explorer.url, timeout=10) as client:

                async def ready() -> bool:
                    _, page = await get_json(client, "/calls?limit=10")
                    _, err = await get_json(client, "/calls/err-1")
                    return len(page.get("calls", [])) == 4 and bool(err.get("alerts"))

                await eventually(ready, what="the scenario materialised")

            def drive() -> None:
                wait = WebDriverWait(browser, 10)
                browser.get(explorer.url)
                assert "Overview" in browser.title
                browser.find_element(By.TAG_NAME, "body").send_keys("/")
                search = browser.switch_to.active_element
                assert search.get_attribute("id") == "search-call-id", "/ focuses the search"
                search.send_keys("err-1", Keys.ENTER)
                wait.until(expected_conditions.url_contains("/ui/calls/err-1"))
                timeline = browser.find_element(By.CSS_SELECTOR, "ol.timeline")
                steps = timeline.find_elements(By.CSS_SELECTOR, "li.step")
                assert len(steps) == 3
                errors = browser.find_element(By.CSS_SELECTOR, "details.errors")
                assert "NETWORK_ERROR" in errors.text
                assert "Upstream socket reset" in errors.text
                browser.find_element(By.CSS_SELECTOR, "a.alert-link").click()
                wait.until(expected_conditions.url_contains("#alert-"))
                browser.save_screenshot(str(ARTIFACTS / "call-page.png"))
                browser.get(explorer.url + "ui/calls/dup-1")
                marked = browser.find_elements(By.CSS_SELECTOR, "li.step.marked")
                assert [m.find_element(By.CSS_SELECTOR, ".badge").text for m in marked] == [
                    "DUPLICATE"
                ]
                browser.get(explorer.url + "ui/calls")
                Select(browser.find_element(By.NAME, "outcome")).select_by_value("COMPLETED")
                browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
                wait.until(expected_conditions.url_contains("outcome=COMPLETED"))
                listed = {
                    a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.calls td a")
                }
                assert "ok-1" in listed
                assert "err-1" not in listed
                browser.get(explorer.url)
                charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
                assert len(charts) == 2
                browser.save_screenshot(str(ARTIFACTS / "overview.png"))

            await asyncio.to_thread(drive)
        assert (ARTIFACTS / "call-page.png").stat().st_size > 10_000
        assert (ARTIFACTS / "overview.png").stat().st_size > 10_000
