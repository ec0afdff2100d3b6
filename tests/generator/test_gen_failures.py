"""Specs the generator cannot turn into a faithful client fail loudly, naming the spec and the place."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator._bundle import SpecError
from generator._pipeline import build


def widgets() -> dict[str, Any]:
    """A small valid spec: one operation returning one object schema."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Widgets", "version": "1.0.0"},
        "paths": {
            "/widgets": {
                "get": {
                    "operationId": "list_widgets",
                    "summary": "List widgets",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Widget"}}},
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {"Widget": {"type": "object", "properties": {"id": {"type": "string"}}}},
        },
    }


def write_specs(root: Path, doc: dict[str, Any], shared: dict[str, Any] | None = None) -> Path:
    specs = root / "specs"
    (specs / "shared").mkdir(parents=True)
    (specs / "widgets.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    (specs / "apis.toml").write_text('[apis]\nwidgets = { summary = "Widgets." }\n', encoding="utf-8")
    if shared is not None:
        (specs / "shared" / "common.yaml").write_text(yaml.safe_dump(shared, sort_keys=False), encoding="utf-8")
    return specs


def build_error(tmp_path: Path, doc: dict[str, Any], shared: dict[str, Any] | None = None) -> str:
    specs = write_specs(tmp_path, doc, shared)
    with pytest.raises(SpecError) as info:
        build(tmp_path / "out", specs=specs)
    message = str(info.value)
    assert message.startswith(("widgets.yaml: ", "specs/widgets.yaml: ")), message
    return message


def response_schema(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["paths"]["/widgets"]["get"]["responses"]["200"]["content"]["application/json"]  # type: ignore[no-any-return]


def test_the_valid_base_spec_builds(tmp_path: Path) -> None:
    """The failures below come from the one construct each adds, not from the base spec."""
    built = build(tmp_path / "out", specs=write_specs(tmp_path, widgets()))
    assert [b.api for b in built] == ["widgets"]
    assert (tmp_path / "out" / "genesys_cx_api" / "widgets" / "models" / "widget.py").is_file()


def test_a_remote_ref_fails_naming_the_spec_and_the_location(tmp_path: Path) -> None:
    doc = widgets()
    response_schema(doc)["schema"] = {"$ref": "https://example.com/schemas.yaml#/components/schemas/Widget"}
    message = build_error(tmp_path, doc)
    assert "remote $ref 'https://example.com/schemas.yaml#/components/schemas/Widget'" in message
    assert "paths//widgets/get/responses/200/content/application/json/schema" in message


def test_a_remote_ref_inside_a_shared_file_names_that_file(tmp_path: Path) -> None:
    doc = widgets()
    response_schema(doc)["schema"] = {"$ref": "shared/common.yaml#/components/schemas/Gadget"}
    shared = {"components": {"schemas": {"Gadget": {"$ref": "http://example.com/g.yaml#/Gadget"}}}}
    message = build_error(tmp_path, doc, shared)
    assert "common.yaml#/components/schemas/Gadget" in message
    assert "remote $ref 'http://example.com/g.yaml#/Gadget'" in message


def test_a_missing_cross_file_target_fails(tmp_path: Path) -> None:
    doc = widgets()
    response_schema(doc)["schema"] = {"$ref": "shared/nowhere.yaml#/components/schemas/Widget"}
    message = build_error(tmp_path, doc)
    assert "file nowhere.yaml not found" in message
    assert "/widgets/get/responses/200" in message


def test_a_missing_name_in_an_existing_file_fails(tmp_path: Path) -> None:
    doc = widgets()
    response_schema(doc)["schema"] = {"$ref": "shared/common.yaml#/components/schemas/Nope"}
    message = build_error(tmp_path, doc, {"components": {"schemas": {"Gadget": {"type": "object"}}}})
    assert "common.yaml has no /components/schemas/Nope" in message


def test_an_invalid_document_fails_validation(tmp_path: Path) -> None:
    doc = widgets()
    doc["paths"]["/widgets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {"type": "widget"}
    message = build_error(tmp_path, doc)
    assert "not a valid OpenAPI 3.1 document" in message


def _xml_response(doc: dict[str, Any]) -> None:
    doc["paths"]["/widgets"]["get"]["responses"]["200"]["content"] = {"application/xml": {"schema": {"type": "string"}}}


def _xml_body(doc: dict[str, Any]) -> None:
    doc["paths"]["/widgets"]["get"]["requestBody"] = {
        "content": {"application/xml": {"schema": {"type": "string"}}},
    }


def _object_header(doc: dict[str, Any]) -> None:
    doc["paths"]["/widgets"]["get"]["parameters"] = [
        {"name": "X-Filter", "in": "header", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
    ]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_xml_response, "Unsupported content_type application/xml"),
        (_xml_body, "Unsupported content type application/xml"),
        (_object_header, "is not allowed in header"),
    ],
    ids=["response-content-type", "request-content-type", "object-in-header"],
)
def test_an_openapi_python_client_warning_fails_the_run(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    doc = copy.deepcopy(widgets())
    mutate(doc)
    message = build_error(tmp_path, doc)
    assert "openapi-python-client reported problems" in message
    assert "GET /widgets" in message
    assert expected in message


def test_an_operation_without_operation_id_fails(tmp_path: Path) -> None:
    doc = widgets()
    del doc["paths"]["/widgets"]["get"]["operationId"]
    message = build_error(tmp_path, doc)
    assert "GET /widgets: no operationId" in message


def test_an_alias_schema_that_gets_no_class_fails_the_completeness_check(tmp_path: Path) -> None:
    doc = widgets()
    schemas = doc["components"]["schemas"]
    schemas["WidgetAlias"] = {"allOf": [{"$ref": "#/components/schemas/Widget"}]}
    schemas["Widget"]["properties"]["alias"] = {"$ref": "#/components/schemas/WidgetAlias"}
    message = build_error(tmp_path, doc)
    assert "component schemas that did not reach the output: WidgetAlias (no model class was generated)" in message


def test_an_unreferenced_bare_schema_fails_the_completeness_check(tmp_path: Path) -> None:
    doc = widgets()
    doc["components"]["schemas"]["WidgetName"] = {"type": "string", "maxLength": 20}
    message = build_error(tmp_path, doc)
    assert "WidgetName (a bare schema that nothing references" in message


def _with_redirect(status: str, model: dict[str, Any]) -> dict[str, Any]:
    doc = widgets()
    doc["paths"]["/widgets"]["get"]["responses"][status] = {
        "description": "found",
        "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        "x-sdk-redirect": {"$ref": "#/components/schemas/Moved"},
    }
    doc["components"]["schemas"]["Moved"] = model
    return doc


LOCATED = {"type": "object", "required": ["location"], "properties": {"location": {"type": "string"}}}


def test_a_documented_redirect_becomes_part_of_the_answer_type(tmp_path: Path) -> None:
    build(tmp_path / "out", specs=write_specs(tmp_path, _with_redirect("302", LOCATED)))
    clients = (tmp_path / "out" / "genesys_cx_api" / "widgets" / "api" / "_clients.py").read_text(encoding="utf-8")
    assert "-> Widget | Moved:" in clients and "redirects=(302,)" in clients


@pytest.mark.parametrize(
    ("status", "model", "words"),
    [
        ("200", LOCATED, "only a 3xx answer is a redirect"),
        ("302", {"type": "object", "properties": {"location": {"type": "string"}}}, "required string property"),
        ("302", {"type": "object", "required": ["where"], "properties": {"where": {"type": "string"}}}, "`location`"),
    ],
)
def test_a_misused_redirect_mark_fails(tmp_path: Path, status: str, model: dict[str, Any], words: str) -> None:
    doc = _with_redirect(status, model)  # on a 200: the mark replaces the success itself
    assert words in build_error(tmp_path, doc)
