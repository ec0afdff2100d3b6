"""Models several APIs share are generated once, into ``genesys_cx_api.common.models``, and every API
that uses one re-exports that same class object: ``isinstance`` and type checkers agree across APIs,
and no generated model module is a copy of another."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import genesys_cx_api.common.models as common
import pytest
import yaml
from _gen_support import COMMITTED
from genesys_cx_api._registry import APIS
from genesys_cx_api.messaging import models as messaging
from genesys_cx_api.open_media import models as open_media
from genesys_cx_api.statistics import models as statistics

from generator._bundle import SpecError
from generator._pipeline import build


def api_models(api: str) -> Any:
    return importlib.import_module(f"genesys_cx_api.{api}.models")


def test_a_shared_model_is_one_class_object_in_every_api_that_uses_it() -> None:
    users: dict[str, list[str]] = {}
    for api in APIS:
        models = api_models(api)
        for name in set(models.__all__) & set(common.__all__):
            assert getattr(models, name) is getattr(common, name), f"{api}.models.{name} is a copy"
            users.setdefault(name, []).append(api)
    # the status envelope of specs/shared/common.yaml is used all over
    assert len(users["Status"]) >= 5 and len(users["StatusResponse"]) >= 4, users


def test_a_shared_model_has_no_module_of_its_own_in_an_api() -> None:
    shared = {p.name for p in (COMMITTED / "common" / "models").glob("*.py")} - {"__init__.py"}
    assert {"status.py", "status_response.py", "paged_response.py", "job_progress.py", "api_response.py"} <= shared
    for api in APIS:
        copies = shared & {p.name for p in (COMMITTED / api / "models").glob("*.py")}
        assert not copies, f"{api}/models has copies of shared models: {sorted(copies)}"


def test_an_answer_of_one_api_is_an_instance_of_the_same_model_of_another() -> None:
    answer = open_media.StatusResponse.from_dict({"status": {"code": 0, "detail": {"ConfCode": 1}}})
    # the annotations make mypy (tests/generator/test_gen_types.py) check that the types agree too
    same: messaging.StatusResponse = answer
    status: statistics.Status = same.status
    assert isinstance(same, messaging.StatusResponse) and isinstance(status, statistics.Status)
    assert type(answer) is common.StatusResponse
    assert messaging.Status.__module__ == "genesys_cx_api.common.models.status"


def test_imports_from_an_api_and_from_common_give_the_same_names() -> None:
    from genesys_cx_api.messaging.models import StatusResponse as FromMessaging
    from genesys_cx_api.udm.models import StatusResponse as FromUdm

    assert FromMessaging is FromUdm is common.StatusResponse
    assert "Status" in dir(messaging) and "Status" in messaging.__all__


def _code(path: Path) -> str:
    """The module's code with its docstrings left out (what `duplicates` compares)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def test_no_two_generated_modules_are_copies() -> None:
    """Models, operations, everything: no module is the code of another (docstrings aside)."""
    seen: dict[str, str] = {}
    copies = []
    modules = sorted(COMMITTED.rglob("*.py"))
    assert len(modules) > 250
    for path in modules:
        if path.name == "__init__.py":
            continue
        rel = path.relative_to(COMMITTED).as_posix()
        code = _code(path)
        if code in seen:
            copies.append(f"{rel} is a copy of {seen[code]}")
        seen.setdefault(code, rel)
    assert not copies, "\n".join(copies)


# --- the rule in the generator, on small specs ----------------------------------------------------

SHARED = {
    "openapi": "3.1.0",
    "info": {"title": "shared", "version": "1"},
    "paths": {},
    "components": {
        "schemas": {
            "Envelope": {
                "type": "object",
                "required": ["code"],
                "properties": {"code": {"type": "integer"}, "detail": {"type": "object", "additionalProperties": True}},
            }
        }
    },
}


def spec(title: str, envelope: dict[str, Any]) -> dict[str, Any]:
    ok = {"description": "ok", "content": {"application/json": {"schema": envelope}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0"},
        "paths": {"/things": {"get": {"operationId": "get_things", "responses": {"200": ok}}}},
    }


def write_repo(root: Path, specs: dict[str, dict[str, Any]]) -> Path:
    folder = root / "specs"
    (folder / "shared").mkdir(parents=True)
    (folder / "shared" / "common.yaml").write_text(yaml.safe_dump(SHARED), encoding="utf-8")
    for name, doc in specs.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    lines = "".join(f'{name} = {{ summary = "{name}." }}\n' for name in specs)
    (folder / "apis.toml").write_text("[apis]\n" + lines, encoding="utf-8")
    return folder


def test_two_specs_using_a_shared_schema_get_it_once_from_common(tmp_path: Path) -> None:
    ref = {"$ref": "shared/common.yaml#/components/schemas/Envelope"}
    build(tmp_path / "out", specs=write_repo(tmp_path, {"alpha": spec("Alpha", ref), "beta": spec("Beta", ref)}))
    package = tmp_path / "out" / "genesys_cx_api"
    assert sorted(p.name for p in (package / "common" / "models").glob("*.py")) == [
        "__init__.py",
        "envelope.py",
        "envelope_detail.py",  # a model inside a shared one is shared too
    ]
    for api in ("alpha", "beta"):
        assert [p.name for p in (package / api / "models").glob("*.py")] == ["__init__.py"]
        init = (package / api / "models" / "__init__.py").read_text(encoding="utf-8")
        assert '"Envelope": "...common.models.envelope"' in init
        endpoint = (package / api / "api" / "default" / "get_things.py").read_text(encoding="utf-8")
        assert "from ....common.models.envelope import Envelope" in endpoint


def test_a_local_schema_with_the_name_of_a_shared_one_fails(tmp_path: Path) -> None:
    ref = {"$ref": "shared/common.yaml#/components/schemas/Envelope"}
    other = spec("Beta", {"$ref": "#/components/schemas/Envelope"})
    other["components"] = {"schemas": {"Envelope": {"type": "object", "properties": {"code": {"type": "string"}}}}}
    with pytest.raises(SpecError) as info:
        build(tmp_path / "out", specs=write_repo(tmp_path, {"alpha": spec("Alpha", ref), "beta": other}))
    assert str(info.value).startswith("specs/beta.yaml: model Envelope differs from the shared one")


def test_a_spec_named_like_the_common_package_fails(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="belongs to the shared models package"):
        build(tmp_path / "out", specs=write_repo(tmp_path, {"common": spec("Common", {"type": "string"})}))
