"""ARCHITECTURE.md's "How to add an API" is true: a spec file and one registry line, nothing else.

On a temporary copy of the repository (generator, specs, runtime; no generated/), the test adds a
tiny ``widgets`` API exactly as the procedure says, runs ``python -m generator``, and then, in a
fresh interpreter on that copy, uses the new API as a user would: ``Genesys().widgets`` and
``AsyncGenesys().widgets`` against the sandbox, which serves it (its documented example) and lists
it in its banner.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from _gen_support import ROOT, run_generator

WIDGETS = """\
openapi: 3.1.0
info:
  title: Widgets API
  version: "1.0.0"
servers:
  - url: "https://{host}/widgets/v1"
    variables:
      host:
        default: api-demo.com
security:
  - apiKey: []
paths:
  /widgets/{widgetId}:
    get:
      operationId: get_widget
      summary: Get a widget
      tags: [Widgets]
      parameters:
        - name: widgetId
          in: path
          required: true
          schema: {type: string}
      responses:
        "200":
          description: The widget.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Widget"}
              examples:
                sprocket:
                  value: {id: w1, name: Sprocket, size: 3}
components:
  securitySchemes:
    apiKey: {type: apiKey, in: header, name: x-api-key}
  schemas:
    Widget:
      type: object
      required: [id, name]
      properties:
        id: {type: string}
        name: {type: string}
        size: {type: integer}
"""

USE_IT = """\
import asyncio
import io

from genesys_cx import AsyncGenesys, Genesys
from genesys_cx.sandbox import DEMO_API_KEY, DEMO_CCID, Sandbox
from genesys_cx.sandbox._cli import _banner
from genesys_cx_api._registry import APIS
from genesys_cx_api.widgets.api import AsyncWidgetsApi, WidgetsApi
from genesys_cx_api.widgets.models import Widget

assert APIS["widgets"].attribute == "widgets" and APIS["widgets"].base_path == "/widgets/v1"
with Sandbox() as sb:
    with Genesys(base_url=sb.url, api_key=DEMO_API_KEY, ccid=DEMO_CCID) as genesys:
        assert isinstance(genesys.widgets, WidgetsApi)
        widget = genesys.widgets.get_widget("w1")
        assert isinstance(widget, Widget) and (widget.id, widget.name, widget.size) == ("w1", "Sprocket", 3)

    async def main() -> None:
        async with AsyncGenesys(base_url=sb.url, api_key=DEMO_API_KEY, ccid=DEMO_CCID) as genesys:
            assert isinstance(genesys.widgets, AsyncWidgetsApi)
            widget = await genesys.widgets.get_widget("w1")
            assert isinstance(widget, Widget) and widget.name == "Sprocket"

    asyncio.run(main())
    banner = io.StringIO()
    _banner(sb, False, banner)
    assert f"widgets        {sb.url}/widgets/v1" in banner.getvalue(), banner.getvalue()
    assert sb.state.response_violations == []
print("widgets reached the facade and the sandbox")
"""


def test_a_spec_and_one_registry_line_add_an_api(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for part in ("generator", "specs", "src"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # The procedure: 1. the spec file; 2. its registry line; 3. python -m generator.
    (repo / "specs" / "widgets.yaml").write_text(WIDGETS, encoding="utf-8")
    with (repo / "specs" / "apis.toml").open("a", encoding="utf-8") as registry:
        registry.write('widgets = { summary = "Widgets: a tiny API added by a test." }\n')
    done = run_generator(repo)
    assert done.returncode == 0, done.stdout + done.stderr

    registry_source = (repo / "generated" / "genesys_cx_api" / "_registry.py").read_text(encoding="utf-8")
    assert "def widgets(self) -> WidgetsApi:" in registry_source
    assert "def widgets(self) -> AsyncWidgetsApi:" in registry_source

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(repo / "src"), str(repo / "generated")])
    used = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(USE_IT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert used.returncode == 0, used.stdout + used.stderr
    assert "widgets reached the facade and the sandbox" in used.stdout


def test_a_spec_without_its_registry_line_stops_the_generator(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for part in ("generator", "specs"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (repo / "specs" / "widgets.yaml").write_text(WIDGETS, encoding="utf-8")
    done = run_generator(repo)
    assert done.returncode == 2
    assert "apis.toml: no line for specs/widgets.yaml" in done.stderr
