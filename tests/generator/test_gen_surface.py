"""The committed generated package: everything imports; sync and async classes are twins."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from types import ModuleType
from typing import Any

import genesys_cx_api
import pytest
from _gen_support import COMMITTED, ROOT
from genesys_cx_api._registry import APIS as REGISTRY
from openapi_python_client.strings import PythonIdentifier

from generator._build import class_name_for
from generator._paths import api_name, spec_files

APIS = sorted(REGISTRY)
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_CREDENTIAL_HEADERS = ("x_api_key", "authorization", "x_hub_signature")


def bundled(api: str) -> dict[str, Any]:
    return json.loads((COMMITTED / "_specs" / f"{api}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """operationId -> operation, for the ``paths`` (webhooks are received, not called)."""
    return {
        op["operationId"]: op
        for item in doc.get("paths", {}).values()
        for method in _METHODS
        if isinstance(op := item.get(method), dict)
    }


def answers_a_file(op: dict[str, Any]) -> bool:
    """True when a 2xx answer of *op* is a file (``format: binary``): its class also has ``<op>_stream``."""
    return any(
        (media.get("schema") or {}).get("format") == "binary"
        for code, answer in op["responses"].items()
        if code.startswith("2")
        for media in (answer.get("content") or {}).values()
    )


def public_methods(cls: type) -> dict[str, Any]:
    return {name: fn for name, fn in vars(cls).items() if callable(fn) and not name.startswith("_")}


def test_the_package_lists_one_api_per_spec() -> None:
    assert sorted(api_name(s) for s in spec_files(ROOT / "specs")) == APIS
    assert all(REGISTRY[a].base_path.startswith("/") and REGISTRY[a].version for a in APIS)


def test_every_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages(genesys_cx_api.__path__, "genesys_cx_api.")]
    for name in names:
        importlib.import_module(name)
    subpackages = {n.split(".")[1] for n in names}
    assert set(APIS) <= subpackages
    for api in APIS:
        assert {f"genesys_cx_api.{api}.{part}" for part in ("api", "models")} <= set(names)
        # one shared client core: no per-API copies of upstream's client, types or errors
        assert not {f"genesys_cx_api.{api}.{part}" for part in ("client", "types", "errors")} & set(names)
    assert {"genesys_cx_api.types", "genesys_cx_api.errors", "genesys_cx_api._runtime"} <= set(names)


@pytest.mark.parametrize("api", APIS)
def test_every_model_is_reachable_from_the_lazy_models_package(api: str) -> None:
    models: ModuleType = importlib.import_module(f"genesys_cx_api.{api}.models")
    assert models.__all__, f"{api}: no models"
    for name in models.__all__:
        cls = getattr(models, name)
        assert isinstance(cls, type) and cls.__name__ == name
    with pytest.raises(AttributeError):
        _ = models.NoSuchModel


@pytest.mark.parametrize("api", APIS)
def test_sync_and_async_classes_are_twins_with_one_method_per_operation(api: str) -> None:
    module = importlib.import_module(f"genesys_cx_api.{api}.api")
    sync_cls = getattr(module, class_name_for(api))
    async_cls = getattr(module, "Async" + class_name_for(api))
    sync_methods, async_methods = public_methods(sync_cls), public_methods(async_cls)

    ops = operations(bundled(api))
    expected = {str(PythonIdentifier(op_id, prefix="")) for op_id in ops}
    streamed = {str(PythonIdentifier(op_id, prefix="")) + "_stream" for op_id, op in ops.items() if answers_a_file(op)}
    assert set(sync_methods) == expected | streamed
    assert set(async_methods) == expected | streamed
    for name in streamed:  # nothing is sent before open(): a plain method in both classes, same parameters
        sync_fn, async_fn = sync_methods[name], async_methods[name]
        assert not inspect.iscoroutinefunction(async_fn), f"{api}.{name}"
        assert inspect.signature(sync_fn) == inspect.signature(async_fn).replace(return_annotation="Stream")
        assert inspect.signature(async_fn).return_annotation == "AsyncStream", f"{api}.{name}"
        base = sync_methods[name.removesuffix("_stream")]
        assert inspect.signature(sync_fn).parameters == inspect.signature(base).parameters, f"{api}.{name}"
    for name in expected:
        sync_fn, async_fn = sync_methods[name], async_methods[name]
        assert not inspect.iscoroutinefunction(sync_fn), f"{api}.{name}"
        assert inspect.iscoroutinefunction(async_fn), f"{api}.{name}"
        assert inspect.signature(sync_fn) == inspect.signature(async_fn), f"{api}.{name}"
        returns = inspect.signature(sync_fn).return_annotation
        assert returns is not inspect.Signature.empty, f"{api}.{name} has no return type"
        if returns == "None":  # only an operation whose every 2xx answer has no body returns None
            answers = operations(bundled(api))[name]["responses"]
            assert all("content" not in a for c, a in answers.items() if c.startswith("2")), f"{api}.{name}"


@pytest.mark.parametrize("api", APIS)
def test_credentials_and_ambient_headers_never_appear_in_signatures(api: str) -> None:
    doc = bundled(api)
    ambient = {
        str(PythonIdentifier(p["name"], prefix="")).lower()
        for p in (doc.get("components", {}).get("parameters") or {}).values()
        if p.get("in") == "header" and "x-sdk-ambient" in p
    }
    module = importlib.import_module(f"genesys_cx_api.{api}.api")
    cls = getattr(module, class_name_for(api))
    for name, fn in public_methods(cls).items():
        params = set(inspect.signature(fn).parameters)
        assert not params & set(_CREDENTIAL_HEADERS), f"{api}.{name}: credential in signature"
        assert not params & ambient, f"{api}.{name}: ambient header in signature"
