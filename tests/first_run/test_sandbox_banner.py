"""``genesys-cx sandbox`` with the default configuration serves what the README uses, and says so."""

from __future__ import annotations

import argparse
import io
import threading
import time

import httpx

from genesys_cx._cli import add_sandbox_arguments
from genesys_cx.sandbox import DEMO_API_KEY, DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET
from genesys_cx.sandbox._cli import run


def test_the_banner_lists_services_and_channels_that_answer() -> None:
    parser = argparse.ArgumentParser()
    add_sandbox_arguments(parser)
    out, stop = io.StringIO(), threading.Event()
    worker = threading.Thread(target=run, args=(parser.parse_args(["--port", "0"]),), kwargs={"out": out, "stop": stop})
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while "Ctrl-C" not in out.getvalue() and worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        banner = out.getvalue()
        assert "Open Media services: workitem, demo" in banner
        assert f"  {DEMO_CHANNEL_ID} (sms, secret {DEMO_CHANNEL_SECRET})" in banner
        url = banner.split("listening on ")[1].split()[0]
        for service in ("workitem", "demo"):  # each listed service really answers
            created = httpx.post(
                f"{url}/nexus/v3/openmedia/{service}/interactions", json={}, headers={"x-api-key": DEMO_API_KEY}
            )
            assert created.status_code == 200, created.text
    finally:
        stop.set()
        worker.join(20)
