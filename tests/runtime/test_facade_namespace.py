"""``Genesys`` / ``AsyncGenesys`` get their API attributes from the generated registry, and only from it."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from genesys_cx_api._registry import APIS, ApiEntry

from genesys_cx import AsyncGenesys, Genesys

FACADE = Path(__file__).resolve().parents[2] / "src" / "genesys_cx" / "_facade.py"
WITH_ATTRIBUTE = [api for api in APIS.values() if api.attribute]


def _class(qualified: str) -> type:
    module, _, name = qualified.partition(":")
    cls: type = getattr(importlib.import_module(module), name)
    return cls


@pytest.mark.parametrize("api", WITH_ATTRIBUTE, ids=[api.name for api in WITH_ATTRIBUTE])
def test_each_api_is_an_attribute_of_both_facades_built_once(api: ApiEntry) -> None:
    with Genesys(base_url="http://127.0.0.1:9", api_key="k") as genesys:
        built = getattr(genesys, str(api.attribute))
        assert type(built) is _class(api.sync_class)
        assert isinstance(built, _class(api.generated_sync))
        assert getattr(genesys, str(api.attribute)) is built


@pytest.mark.parametrize("api", WITH_ATTRIBUTE, ids=[api.name for api in WITH_ATTRIBUTE])
async def test_each_api_is_an_attribute_of_the_async_facade(api: ApiEntry) -> None:
    async with AsyncGenesys(base_url="http://127.0.0.1:9", api_key="k") as genesys:
        built = getattr(genesys, str(api.attribute))
        assert type(built) is _class(api.async_class)
        assert isinstance(built, _class(api.generated_async))


def test_statistics_keeps_its_hand_written_subscribe() -> None:
    with Genesys(base_url="http://127.0.0.1:9", api_key="k") as genesys:
        assert callable(genesys.statistics.subscribe)


def test_an_api_without_operations_has_no_attribute() -> None:
    assert APIS["interactions"].attribute is None
    assert not hasattr(Genesys, "interactions") and not hasattr(AsyncGenesys, "interactions")


def test_the_facade_defines_no_api_attribute_and_keeps_no_list_of_apis() -> None:
    from genesys_cx import _facade

    for api in WITH_ATTRIBUTE:
        for cls in (_facade._Base, Genesys, AsyncGenesys):
            assert str(api.attribute) not in vars(cls), f"{cls.__name__} defines {api.attribute} itself"
    tree = ast.parse(FACADE.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict | ast.Tuple | ast.List | ast.Set):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            names = [i.value for i in items if isinstance(i, ast.Constant) and i.value in APIS]
            assert len(names) < 2, f"_facade.py line {node.lineno} lists APIs: {names}"


def test_the_facade_has_no_type_ignore() -> None:
    assert "type: ignore" not in FACADE.read_text(encoding="utf-8")


def test_no_api_is_imported_before_its_attribute_is_used() -> None:
    code = (
        "import sys\n"
        "from genesys_cx import Genesys\n"
        "g = Genesys(base_url='http://127.0.0.1:9', api_key='k')\n"
        "assert not [m for m in sys.modules if m.startswith('genesys_cx_api.messaging')], 'loaded early'\n"
        "g.open_media\n"
        "assert not [m for m in sys.modules if m.startswith('genesys_cx_api.messaging')], 'loaded by another'\n"
        "g.messaging\n"
        "assert 'genesys_cx_api.messaging.api' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
