"""``genesys-cx sign`` / ``verify`` (and the command registry) through ``main([...])``."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genesys_cx import _commands
from genesys_cx._cli import main, register
from genesys_cx.signing import sign

SECRET = "cli-channel-secret"
BODY = b'{"type":"Text","text":"hello \xe2\x9c\x93"}'


class Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("GENESYS_CHANNEL_SECRET", SECRET)
    monkeypatch.setattr(sys, "stdin", Stdin(BODY))
    return monkeypatch


def test_sign_reads_stdin_and_the_default_variable(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign"]) == 0
    assert capsys.readouterr().out == sign(SECRET, BODY) + "\n"


def test_sign_a_file_with_a_named_variable(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "body.json").write_bytes(b"other body")
    env.setenv("MY_SECRET", "mine")
    assert main(["sign", "--file", str(tmp_path / "body.json"), "--secret-env", "MY_SECRET"]) == 0
    assert capsys.readouterr().out.strip() == sign("mine", b"other body")


def test_a_secret_file_loses_only_its_trailing_newline(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for content, secret in (
        (b"from-file\n", b"from-file"),
        (b"from-file\r\n", b"from-file"),
        (b" spaced \n", b" spaced "),
        (b"raw", b"raw"),
    ):
        (tmp_path / "secret").write_bytes(content)
        assert main(["sign", "--secret-file", str(tmp_path / "secret")]) == 0
        env.setattr(sys, "stdin", Stdin(BODY))
        assert capsys.readouterr().out.strip() == sign(secret, BODY)


def test_verify_exits_0_for_a_valid_signature(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--signature", sign(SECRET, BODY)]) == 0
    assert capsys.readouterr().out == "signature valid ✓\n"


@pytest.mark.parametrize("signature", [sign("wrong", BODY), sign(SECRET, BODY + b" "), "sha1=xyz", "", "md5=00"])
def test_verify_exits_1_for_an_invalid_signature(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], signature: str
) -> None:
    assert main(["verify", "--signature", signature]) == 1
    out = capsys.readouterr()
    assert out.out == "signature INVALID\n"
    assert SECRET not in out.out + out.err and sign(SECRET, BODY)[5:] not in out.out + out.err


def test_a_missing_secret_is_a_usage_error_naming_the_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.delenv("GENESYS_CHANNEL_SECRET")
    assert main(["verify", "--signature", sign(SECRET, BODY)]) == 2
    err = capsys.readouterr().err
    assert "GENESYS_CHANNEL_SECRET is not set" in err and "--secret-file" in err
    env.setenv("EMPTY", "")
    assert main(["sign", "--secret-env", "EMPTY"]) == 2
    assert "EMPTY is empty" in capsys.readouterr().err


def test_unreadable_files_and_bad_usage_exit_2(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sign", "--file", str(tmp_path / "absent.json")]) == 2
    assert "cannot read the body" in capsys.readouterr().err
    assert main(["sign", "--secret-file", str(tmp_path / "absent")]) == 2
    assert "cannot read the secret file" in capsys.readouterr().err
    (tmp_path / "empty").write_bytes(b"\n")
    assert main(["sign", "--secret-file", str(tmp_path / "empty")]) == 2
    assert "is empty" in capsys.readouterr().err
    assert main(["verify"]) == 2  # --signature is required
    assert main([]) == 2
    assert main(["sign", "--secret", SECRET]) == 2  # there is no way to pass the secret itself
    err = capsys.readouterr().err
    assert "never taken from the command line" in err and SECRET not in err
    assert main(["sign", "--secret-env", "A", "--secret-file", "B"]) == 2
    capsys.readouterr()
    assert main(["--help"]) == 0
    assert "sign" in capsys.readouterr().out


def test_more_subcommands_can_be_registered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_commands, "COMMANDS", list(_commands.COMMANDS))

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8080)

    def run(args: argparse.Namespace) -> int:
        print(f"serving on {args.port}")
        return 3

    before = [c.name for c in _commands.COMMANDS]
    register("serve-test", add_arguments, run, help="a test command")
    assert main(["serve-test", "--port", "9"]) == 3
    assert capsys.readouterr().out == "serving on 9\n"
    assert [c.name for c in _commands.COMMANDS] == [*before, "serve-test"]
    register("serve-test", add_arguments, run, help="registered again: replaced, not duplicated")
    assert [c.name for c in _commands.COMMANDS] == [*before, "serve-test"]


def test_the_sdk_commands_are_registered() -> None:
    assert [c.name for c in _commands.COMMANDS] == ["sign", "verify", "sandbox", "demo", "export", "download"]


def test_python_dash_m_genesys_cx_signs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "genesys_cx", "sign"],
        input=BODY,
        capture_output=True,
        check=False,
        env={**os.environ, "GENESYS_CHANNEL_SECRET": SECRET},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == sign(SECRET, BODY)
    missing = subprocess.run(
        [sys.executable, "-m", "genesys_cx", "verify", "--signature", "sha1=00"],
        input=BODY,
        capture_output=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "GENESYS_CHANNEL_SECRET"},
    )
    assert missing.returncode == 2 and b"GENESYS_CHANNEL_SECRET" in missing.stderr
