"""The inspector page in a real browser (Debian's chromium, headless, driven by Selenium) while the SDK talks.

Skipped locally when chromium, chromedriver or selenium are missing; a failure when ``CI=true``
(``.ci/run`` installs the Debian packages ``chromium`` and ``chromium-driver``; nothing downloads a
browser build: Selenium is given both binaries, so Selenium Manager never runs).
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from genesys_cx_api.messaging.models import SendMessagesRequest, TextMessage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genesys_cx import Genesys, Settings
from genesys_cx._demo import EMAIL_SECRET, run
from genesys_cx._serve import serve
from genesys_cx.errors import GenesysError
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CHANNEL_ID,
    DEMO_CHANNEL_SECRET,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DeliveryPolicy,
    Sandbox,
    SandboxChannel,
    SandboxConfig,
)

from .conftest import SandboxFactory

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,1400",
]
SECRETS = [DEMO_API_KEY, DEMO_CHANNEL_SECRET, DEMO_CLIENT_SECRET, DEMO_PASSWORD]
WAIT = 20.0


def _browser_or_skip() -> None:
    missing = [name for name, found in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not found]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        reason = f"the browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must run it")
        pytest.skip(reason)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER or ""), options=options)
    try:
        yield browser
    finally:
        browser.quit()


class FlakyWebhook:
    """Answers 503 to the first delivery of each agent message, then the ``messageId``."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.url = ""

    async def endpoint(self, request: Request) -> Response:
        message_id = json.loads(await request.body())["channel"]["messageId"]
        with self.lock:
            first = message_id not in self.seen
            self.seen.add(message_id)
        return Response(status_code=503) if first else JSONResponse({"messageId": message_id})


@pytest.fixture
def webhook() -> Iterator[FlakyWebhook]:
    hook = FlakyWebhook()
    with serve(Starlette(routes=[Route("/hook", hook.endpoint, methods=["POST"])])) as server:
        hook.url = server.url + "/hook"
        yield hook


def _genesys(sb: Sandbox, secret: str = DEMO_CHANNEL_SECRET) -> Genesys:
    return Genesys(
        Settings(base_url=sb.url, api_key=DEMO_API_KEY, ccid=DEMO_CCID, channel_secrets={DEMO_CHANNEL_ID: secret})
    )


def _send(genesys: Genesys, text: str) -> None:
    message = TextMessage.from_dict(
        {"type": "Text", "channel": {"from": {"id": "16504661149"}, "to": {"id": DEMO_CHANNEL_ID}}, "text": text}
    )
    genesys.messaging.send_message(DEMO_CHANNEL_ID, body=SendMessagesRequest(messages=[message]))


def test_the_page_shows_requests_deliveries_faults_and_signatures_live(
    make_sandbox: SandboxFactory, webhook: FlakyWebhook, driver: Any, tmp_path: Path
) -> None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    policy = DeliveryPolicy(attempts=5, backoff=0.5, multiplier=1.0, timeout=5)
    sb = make_sandbox(
        SandboxConfig(channels=[SandboxChannel(DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET, webhook.url)], delivery=policy)
    )
    wait = WebDriverWait(driver, WAIT, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))

    def click(selector: str) -> None:  # the page re-renders its panels: find and click in one go
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, selector).click() or True)

    def rows(selector: str) -> list[str]:
        # read in one script: the page re-renders panels, so element handles may go stale
        texts: list[str] = driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText)", selector
        )
        return texts

    def shown(selector: str, *needles: str) -> str:
        def found(_: Any) -> str | bool:
            return next((text for text in rows(selector) if all(n in text for n in needles)), False)

        text = wait.until(found, f"no {selector} showing {needles}: {rows(selector)}")
        return str(text)

    driver.get(sb.url + "/_sandbox/")  # the browser's own Accept header gets the page
    assert driver.title == "Genesys sandbox inspector"
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")

    with _genesys(sb) as genesys:
        # 1. request rows appear while the SDK sends
        _send(genesys, "Hi, where is my order 42?")
        row = shown("#events li.event.request", "send_message", "200", "POST /nexus/v3/channels/0123456789/messages")
        assert "✓ valid" in row and "trace" in row
        shown("#events li.event.signature", "✓ signature valid", DEMO_CHANNEL_ID)

        # a click opens the bodies, secrets masked
        click("#events li.event.request")
        detail = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#events .detail"))
        wait.until(lambda d: "where is my order 42" in detail.text)
        assert "x-api-key: ***" in detail.text and "x-hub-signature: ***" in detail.text

        # 2. an agent reply sent from the form shows its delivery attempts
        driver.find_element(By.ID, "reply-text").send_keys("It ships tomorrow!")
        driver.find_element(By.ID, "reply-send").click()
        result = wait.until(lambda d: d.find_element(By.ID, "reply-result").text or False)
        assert "queued" in result, result
        message_id = result.split()[2]
        card = shown("#deliveries > li", message_id, "delivered")
        assert "#1: 503 retry" in card and "#2: 200 delivered" in card, card
        shown("#events li.event.delivery", message_id, "attempt 1", "next attempt at")
        shown("#events li.event.delivery", message_id, "attempt 2", "delivered")
        assert sb.state.outbox.get(message_id) is not None

        # 3. a fault added from the page makes the next request fail, and shows it
        match = driver.find_element(By.ID, "fault-match")
        match.clear()
        match.send_keys("send_message")
        driver.find_element(By.ID, "fault-status").send_keys("503")
        driver.find_element(By.ID, "fault-times").send_keys("1")
        driver.find_element(By.ID, "fault-add").click()
        shown("#faults li.fault", "send_message", "HTTP 503", "1 more")
        assert [f.status for f in sb.faults] == [503]
        with pytest.raises(GenesysError) as failed:
            _send(genesys, "Are you there?")
        assert failed.value.status == 503
        shown("#events li.event.request", "send_message", "503", "fault: HTTP 503")
        shown("#events li.event.fault", "fault: HTTP 503", "POST /nexus/v3/channels/0123456789/messages")
        _send(genesys, "Hello again")  # the fault was for one request only

        # ... and a fault removed from the page stops failing requests
        driver.find_element(By.ID, "fault-times").clear()  # same rule, every time
        driver.find_element(By.ID, "fault-add").click()
        always = shown("#faults li.fault", "send_message", "HTTP 503", "always")
        with pytest.raises(GenesysError):
            _send(genesys, "Still failing?")
        fault_id = always.split()[0]
        click(f"#faults li.fault[data-fault='{fault_id[1:]}'] button.remove")
        wait.until(lambda d: f"fault {fault_id} removed" in d.find_element(By.ID, "fault-result").text)
        assert [f.times for f in sb.faults] == [0]  # the spent one-time rule is left
        _send(genesys, "Working again")

    # 4. a bad signature shows its reason
    with _genesys(sb, secret="not-the-channel-secret") as wrong:
        with pytest.raises(GenesysError) as refused:
            _send(wrong, "signed with the wrong secret")
        assert refused.value.status == 401
    reason = shown("#events li.event.signature", "✗ signature failed", "mismatch")
    assert "HMAC-SHA1" in reason
    shown("#events li.event.request", "401", "✗ refused", "X-Hub-Signature")

    # filters: only 4xx requests of the messaging API
    Select(driver.find_element(By.ID, "filter-kind")).select_by_value("request")
    Select(driver.find_element(By.ID, "filter-status")).select_by_value("4")
    filtered = rows("#events li.event")
    assert filtered and all(" 401 " in f" {text} " or "401" in text.split() for text in filtered), filtered

    # 5. no secret in the page's HTML or its event stream
    driver.save_screenshot(str(tmp_path / "inspector.png"))
    html = driver.page_source
    last = sb.state.events.events()[-1].id
    stream = ""
    with httpx.Client(base_url=sb.url, timeout=10) as http, http.stream("GET", "/_sandbox/inspector/stream") as s:
        for line in s.iter_lines():
            stream += line + "\n"
            if line == f"id: {last}":
                break
    details = "".join(
        httpx.get(f"{sb.url}/_sandbox/inspector/events/{event.id}").text for event in sb.state.events.events()
    )
    assert "send_message" in stream and "mismatch" in stream
    for secret in [*SECRETS, "not-the-channel-secret"]:
        assert secret not in html
        assert secret not in stream
        assert secret not in details


def test_the_page_after_the_demo_shows_what_it_did(driver: Any, tmp_path: Path) -> None:
    """``genesys-cx demo --keep-open``: the sandbox stays up and its page tells the demo's story.

    Set ``GENESYS_INSPECTOR_SCREENSHOT=path.png`` to keep a screenshot of the page.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    out, stop = io.StringIO(), threading.Event()
    outcome: dict[str, int] = {}
    demo = threading.Thread(target=lambda: outcome.update(code=run(out, environ={}, keep_open=True, stop=stop)))
    demo.start()
    try:
        wait = WebDriverWait(driver, 60)

        def announced(_: Any) -> str | None:
            match = re.search(r"stays up: open (\S+) in a browser", out.getvalue())
            return match.group(1) if match else None

        url = str(wait.until(announced, "the demo never said where the inspector is"))
        assert f"inspector (every request, live; open it in a browser): {url}" in out.getvalue()
        driver.set_window_size(1280, 2400)
        driver.get(url)
        wait.until(lambda d: d.find_element(By.ID, "live").text == "live")

        def page_text(_: Any) -> str:
            text: str = driver.execute_script("return document.body.innerText")
            return text

        for needle in (
            "send_message",
            "upload_media",
            "create_interaction",
            "stop_interaction_by_external_id",
            "cometd",
            "✓ signature valid",
        ):
            wait.until(functools.partial(_shows, page_text, needle), f"{needle} not on the page")
        deliveries = driver.execute_script("return [...document.querySelectorAll('#deliveries > li')].length")
        assert deliveries == 2 and "#1: 200 delivered" in page_text(driver)
        wait.until(lambda d: "/statistics/v3/updates" in d.find_element(By.ID, "sessions").text)
        wait.until(lambda d: "StatisticUpdate" in d.find_element(By.ID, "channels").text)
        assert driver.find_element(By.ID, "service-state").text == "AVAILABLE"
        shot = os.environ.get("GENESYS_INSPECTOR_SCREENSHOT") or str(tmp_path / "inspector-after-demo.png")
        driver.save_screenshot(shot)
        html = driver.page_source
        for secret in [*SECRETS, EMAIL_SECRET]:
            assert secret not in html
    finally:
        stop.set()
        demo.join(30)
    assert outcome["code"] == 0, out.getvalue()
    assert out.getvalue().rstrip().endswith("sandbox stopped")


def _shows(page_text: Callable[[Any], str], needle: str, driver: Any) -> bool:
    """A wait condition: the page's text contains *needle*."""
    return needle in page_text(driver)
