"""Every ```python block of README.md runs as written (the convention: ``_blocks.py``).

Each block gets a fresh namespace and a fresh temporary working directory; the words of its
``<!-- readme-test: ... -->`` comment are prepared here (a sandbox, a client on it, ``GENESYS_*``
variables, a webhook receiver, the reader's delivery function). A block that defines a webhook
``app`` is then sent a real signed agent message, and must hand it to ``deliver_to_phone``.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genesys_cx.signing import sign

from ._blocks import PREPARED, README, Block, python_blocks

BLOCKS = python_blocks()
HANG_LIMIT = 120.0  # seconds; a block that has not ended by then kills the run with a traceback
CHANNEL, CHANNEL_SECRET = "my-channel", "my-channel-secret"
SANDBOX_EXAMPLE_CHANNEL, SANDBOX_EXAMPLE_SECRET = "0123456789", "channel-secret"
# the smallest valid JPEG (a 1x1 white pixel)
TINY_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f"
    "1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f0000"
    "010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d010203000411"
    "05122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445"
    "464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9"
    "aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda00080101"
    "00003f00fbfcffd9"
)


def test_the_readme_has_python_blocks_and_every_prepared_word_is_known() -> None:
    assert len(BLOCKS) >= 6, "README.md lost its ```python blocks (or the extractor broke)"
    unknown = {word for block in BLOCKS for word in block.prepared} - PREPARED.keys()
    assert not unknown, (
        f"README readme-test comments name unknown words: {sorted(unknown)} (see tests/readme/_blocks.py)"
    )


class Deliveries:
    """The reader's ``deliver_to_phone``: records what it was given."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def __call__(self, message: Any) -> None:
        self.messages.append(message)


@contextlib.contextmanager
def _sandbox(block: Block) -> Iterator[Any]:
    from genesys_cx.sandbox import Sandbox, SandboxChannel, SandboxConfig

    config = SandboxConfig()
    config.channels.append(SandboxChannel(CHANNEL, CHANNEL_SECRET))
    with Sandbox(config) as sandbox:
        yield sandbox


@contextlib.contextmanager
def prepared(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The names (and environment, and files) the block's readme-test comment asks for."""
    names: dict[str, Any] = {"__name__": "__main__"}
    words = set(block.prepared)
    with contextlib.ExitStack() as stack:
        if words & {"genesys", "env"}:
            from genesys_cx import Genesys
            from genesys_cx.sandbox import DEMO_API_KEY, DEMO_CCID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

            sandbox = stack.enter_context(_sandbox(block))
            if "genesys" in words:
                names["genesys"] = stack.enter_context(
                    Genesys(
                        base_url=sandbox.url,
                        api_key=DEMO_API_KEY,
                        ccid=DEMO_CCID,
                        channel_secrets={CHANNEL: CHANNEL_SECRET},
                    )
                )
            if "env" in words:
                for name, value in {
                    "GENESYS_BASE_URL": sandbox.url,
                    "GENESYS_API_KEY": DEMO_API_KEY,
                    "GENESYS_CCID": DEMO_CCID,
                    "GENESYS_CHANNEL_SECRETS": f"{CHANNEL}={CHANNEL_SECRET}",
                    "GENESYS_CLIENT_ID": DEMO_CLIENT_ID,
                    "GENESYS_CLIENT_SECRET": DEMO_CLIENT_SECRET,
                }.items():
                    monkeypatch.setenv(name, value)
        if "receiver_url" in words:
            from genesys_cx._serve import serve
            from genesys_cx.webhooks import webhook_app

            received = Deliveries()
            server = stack.enter_context(serve(webhook_app(SANDBOX_EXAMPLE_SECRET, on_message=received)))
            names["receiver_url"] = server.url + "/"
        if "deliver_to_phone" in words:
            names["deliver_to_phone"] = Deliveries()
        if "SECRET" in words:
            names["SECRET"] = CHANNEL_SECRET
        if "photo.jpg" in words:
            (tmp_path / "photo.jpg").write_bytes(TINY_JPEG)
        yield names


def _post_agent_message(app: Any) -> tuple[int, bytes]:
    """Send *app* (Starlette or Flask) one signed agent SMS, as Genesys would; (status, body)."""
    body = json.dumps(
        {
            "channel": {
                "id": CHANNEL,
                "type": "sms",
                "from": {"id": CHANNEL},
                "to": {"id": "16504661149"},
                "messageId": "readme-1",
            },
            "type": "Text",
            "text": "How can I help?",
        }
    ).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature": sign(CHANNEL_SECRET, body)}
    if hasattr(app, "test_client"):  # Flask
        flask_answer = app.test_client().post("/genesys", data=body, headers=headers)
        return int(flask_answer.status_code), bytes(flask_answer.data)

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://receiver") as client:
            return await client.post("/", content=body, headers=headers)

    answer = asyncio.run(post())
    return answer.status_code, answer.content


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_readme_block_runs_as_written(
    block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [name for name in os.environ if name.startswith("GENESYS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    # padded so that a traceback names the README's own line numbers
    code = compile("\n" * (block.line - 1) + block.code, str(README), "exec")
    with prepared(block, monkeypatch, tmp_path) as namespace:
        given = dict(namespace)
        faulthandler.dump_traceback_later(HANG_LIMIT, exit=True, file=sys.__stderr__ or sys.stderr)
        try:
            exec(code, namespace)
        finally:
            faulthandler.cancel_dump_traceback_later()
        deliveries = given.get("deliver_to_phone")
        if deliveries is not None:
            assert "app" in namespace, "a block given deliver_to_phone must define the webhook `app`"
            status, answer = _post_agent_message(namespace["app"])
            assert status == 200, answer
            assert json.loads(answer) == {"messageId": "readme-1"}
            assert [message.text for message in deliveries.messages] == ["How can I help?"]
    sys.stdout.flush()


def test_the_errors_section_names_every_exception() -> None:
    import genesys_cx.errors

    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Errors") :]
    section = section[: section.index("\n#", 1)]
    classes = [name for name in genesys_cx.errors.__all__ if isinstance(getattr(genesys_cx.errors, name), type)]
    missing = [name for name in classes if f"`{name}`" not in section]
    assert not missing, f"README's Errors section does not name {missing}"
