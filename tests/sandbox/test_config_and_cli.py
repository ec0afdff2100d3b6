"""Configuration files, secrets kept out of reprs and logs, the CLI entry point, the bare ASGI app."""

from __future__ import annotations

import argparse
import io
import json
import logging
import threading
import time
from pathlib import Path

import httpx
import pytest

from genesys_cx._cli import add_sandbox_arguments as add_arguments
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CHANNEL_SECRET,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    Sandbox,
    SandboxConfig,
    create_app,
)
from genesys_cx.sandbox._cli import run

CONFIG = {
    "api_keys": ["k1"],
    "ccid": None,
    "token_lifetime": 60,
    "channels": [{"id": "c1", "secret": "s3cr3t-channel", "webhook_url": "http://127.0.0.1:1/hook"}],
    "clients": [{"client_id": "app", "client_secret": "s3cr3t-client", "redirect_uris": ["http://x/cb"]}],
    "users": [{"username": "u", "password": "s3cr3t-password"}],
    "delivery": {"attempts": 2, "timeout": 1.5},
    "faults": [{"match": "ping", "status": 503}],
}


@pytest.mark.parametrize("suffix", [".json", ".toml", ".yaml"])
def test_config_files(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"sandbox{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(CONFIG))
    elif suffix == ".toml":
        import tomli_w

        path.write_text(tomli_w.dumps({k: v for k, v in CONFIG.items() if v is not None}))
    else:
        import yaml

        path.write_text(yaml.safe_dump(CONFIG))
    config = SandboxConfig.from_file(path)
    assert config.channels[0].secret == "s3cr3t-channel" and config.clients[0].redirect_uris == ["http://x/cb"]
    assert config.delivery.attempts == 2 and config.delivery.timeout == 1.5
    assert config.faults[0].status == 503 and config.token_lifetime == 60
    for secret in ("s3cr3t-channel", "s3cr3t-client", "s3cr3t-password", "k1"):
        assert secret not in repr(config)


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"api_key": ["x"]}, "unknown key(s) api_key"),
        ({"channels": [{"id": "x"}]}, "config.channels[0]"),
        ({"delivery": {"attempts": 0}}, "attempts"),
        ({"faults": [{"status": 200}]}, "status"),
        ({"channels": "nope"}, "config.channels: expected a list of SandboxChannel tables, got str"),
    ],
)
def test_bad_config_is_a_clear_value_error(data: dict[str, object], complaint: str) -> None:
    with pytest.raises(
        ValueError, match=complaint.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)")
    ):
        SandboxConfig.from_mapping(data)


def test_demo_secrets_stay_out_of_reprs() -> None:
    config = SandboxConfig()
    text = repr(config) + repr(config.channels) + repr(config.clients) + repr(config.users)
    for secret in (DEMO_API_KEY, DEMO_CHANNEL_SECRET, DEMO_CLIENT_SECRET, DEMO_PASSWORD):
        assert secret not in text


def test_secrets_stay_out_of_logs_and_error_messages(make_sandbox, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    sb = make_sandbox()
    with httpx.Client(base_url=sb.base_url("auth"), headers={"x-api-key": DEMO_API_KEY}, timeout=10) as auth:
        refused = auth.post(
            "/oauth/token",
            auth=("sandbox-client", DEMO_CLIENT_SECRET),
            data={"grant_type": "password", "username": "agent", "password": 123456789},
        )
        token = auth.post(
            "/oauth/token",
            auth=("sandbox-client", DEMO_CLIENT_SECRET),
            data={"grant_type": "password", "username": "agent", "password": DEMO_PASSWORD},
        ).json()
    assert "123456789" not in refused.text
    assert repr(sb.state.tokens.lookup(token["access_token"])).count(token["access_token"]) == 0
    for secret in (DEMO_CHANNEL_SECRET, DEMO_CLIENT_SECRET, DEMO_PASSWORD, token["access_token"], DEMO_API_KEY):
        assert secret not in caplog.text


def test_cli_runs_until_stopped(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--port", "0"])
    out, stop = io.StringIO(), threading.Event()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(run(args, out=out, stop=stop)))
    worker.start()
    deadline = time.monotonic() + 20
    while "Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    banner = out.getvalue()
    url = banner.split("listening on ")[1].split()[0]
    assert httpx.get(url + "/_sandbox/").json()["channels"] == ["0123456789"]
    assert DEMO_API_KEY in banner  # the demo credentials are printed for the user
    stop.set()
    worker.join(20)
    assert result == [0] and "stopped" in out.getvalue()


def test_cli_refuses_a_bad_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"api_key": []}')
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args(["--config", str(bad)])) == 2
    assert "api_key" in capsys.readouterr().err


async def test_create_app_serves_without_a_sandbox_thread() -> None:
    app, state = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        answer = await client.post(
            "/nexus/v3/openmedia/demo/interactions", json={}, headers={"x-api-key": DEMO_API_KEY}
        )
    assert answer.status_code == 200 and len(state.open_media.interactions()) == 1
    assert state.response_violations == []


def test_sandbox_repr_and_base_urls() -> None:
    sb = Sandbox()
    assert "not started" in repr(sb)
    with sb:
        assert sb.base_url("messaging") == sb.url + "/nexus/v3" and sb.url in repr(sb)
    with pytest.raises(RuntimeError, match="not running"):
        sb.agent_reply("0123456789", "x", to="1")
