"""``pip install genesys-cx`` without extras: the command line and the SDK work, extras are named.

This is also the publish round trip (``.ci/publish-roundtrip.sh``): the sdist and the wheel of this
tree are built, checked with twine, uploaded to a pypiserver on loopback and installed from it, with
the required dependencies only (no starlette, uvicorn, jsonschema, redis), into a fresh virtualenv;
then the installed ``genesys-cx`` runs as a user would run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from genesys_cx.signing import sign

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bare-install-secret"
BODY = b'{"type":"Text","text":"hello"}'


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The round trip's fresh virtualenv (this tree's release, installed from an index); its bin/ directory."""
    venv = tmp_path_factory.mktemp("bare-install") / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("GENESYS_INDEX_URL", "GENESYS_SIMPLE_URL", "PYTHONPATH")}
    done = subprocess.run(
        ["bash", str(ROOT / ".ci" / "publish-roundtrip.sh")],
        env={**env, "PY": sys.executable, "VENV_DIR": str(venv)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "publish round trip OK" in done.stdout
    return venv / "bin"


def run(bin_dir: Path, args: Sequence[str], stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYS_", "PYTHON"))}
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
        cwd=bin_dir.parent,
    )


def test_the_extras_really_are_absent(bare: Path) -> None:
    done = run(bare, ["python", "-c", "import starlette"])
    assert done.returncode == 1 and "No module named 'starlette'" in done.stderr


@pytest.mark.parametrize("args", [["--help"], ["sign", "--help"], ["verify", "--help"], ["sandbox", "--help"]])
def test_help_works(bare: Path, args: list[str]) -> None:
    done = run(bare, ["genesys-cx", *args])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: genesys-cx") and not done.stderr


def test_version_works(bare: Path) -> None:
    from genesys_cx import __version__

    done = run(bare, ["python", "-m", "genesys_cx", "--version"])
    assert (done.returncode, done.stdout, done.stderr) == (0, f"genesys-cx {__version__}\n", "")


def test_sign_and_verify_work(bare: Path) -> None:
    signed = run(bare, ["genesys-cx", "sign"], BODY, GENESYS_CHANNEL_SECRET=SECRET)
    assert (signed.returncode, signed.stdout, signed.stderr) == (0, sign(SECRET, BODY) + "\n", "")
    verified = run(
        bare, ["genesys-cx", "verify", "--signature", sign(SECRET, BODY)], BODY, GENESYS_CHANNEL_SECRET=SECRET
    )
    assert (verified.returncode, verified.stdout) == (0, "signature valid ✓\n")


@pytest.mark.parametrize(("command", "extra"), [(["demo"], "sandbox"), (["sandbox", "--port", "0"], "sandbox")])
def test_commands_needing_an_extra_say_which_in_one_line(bare: Path, command: list[str], extra: str) -> None:
    done = run(bare, ["genesys-cx", *command])
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f'pip install "genesys-cx[{extra}]"' in done.stderr


def test_demo_against_a_tenant_needs_only_the_server_extra(bare: Path) -> None:
    done = run(bare, ["genesys-cx", "demo"], GENESYS_BASE_URL="https://gapi-use1.genesyscloud.com")
    assert done.returncode == 2 and 'pip install "genesys-cx[server]"' in done.stderr, done.stderr


def test_the_sdk_imports_and_each_extra_feature_names_its_extra(bare: Path) -> None:
    script = textwrap.dedent(
        """
        import importlib, pkgutil
        import genesys_cx, genesys_cx_api
        from genesys_cx import Genesys, AsyncGenesys, Settings, RetryPolicy, GenesysError, SPEC_VERSIONS
        from genesys_cx import credentials, errors, notifications, signing, webhooks
        from genesys_cx.errors import MissingExtra
        for module in pkgutil.walk_packages(genesys_cx_api.__path__, "genesys_cx_api."):
            importlib.import_module(module.name)
        Genesys(base_url="https://gapi-use1.genesyscloud.com", api_key="k").messaging
        print("sdk ok", len(SPEC_VERSIONS))

        def refused(call, extra):
            try:
                call()
            except MissingExtra as exc:
                assert isinstance(exc, ImportError) and isinstance(exc, GenesysError)
                assert exc.extra == extra and f'pip install "genesys-cx[{extra}]"' in str(exc), exc
                print("refused", extra)
            else:
                raise AssertionError(f"{call} worked without the {extra} extra")

        refused(lambda: webhooks.webhook_app({"s"}, on_message=print), "server")
        refused(lambda: webhooks.RedisStore("redis://127.0.0.1:1"), "redis")
        refused(lambda: importlib.import_module("genesys_cx.sandbox"), "sandbox")
        """
    )
    done = run(bare, ["python", "-c", script])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["sdk ok 8", "refused server", "refused redis", "refused sandbox"]
