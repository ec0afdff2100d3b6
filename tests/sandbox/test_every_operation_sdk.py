"""Every operation of the registry, called through ``Genesys`` and ``AsyncGenesys`` against the sandbox.

For each operation the test builds the call a user would write: path parameters naming things that
exist (created first, through the SDK: a media upload, an interaction, a secure e-mail, an export job
in the state the operation needs, a statistics subscription, a CometD session), required query
parameters and the body from the spec's examples (``_examples``), the body as the generated model.
It then checks the typed answer: the value is of the type the method declares (model class, list of
models, ``File``...), and, dumped back with ``to_dict()``, equals the JSON the sandbox sent (every
field, not a sample of them); a binary answer equals the bytes sent.
"""

from __future__ import annotations

import builtins
import enum
import importlib
import inspect
import types
import typing
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from genesys_cx_api._registry import APIS, ApiEntry, OperationEntry
from openapi_python_client.strings import PythonIdentifier

from genesys_cx import AsyncGenesys, Genesys, Settings
from genesys_cx.credentials import OAuth2Credentials
from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CHANNEL_ID,
    DEMO_CHANNEL_SECRET,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_REDIRECT_URI,
    DEMO_USERNAME,
    Sandbox,
    SandboxConfig,
)

from ._examples import PATH_VALUES, example_body, required_query, resolve, spec_operation

CASES = [(api, op) for api in APIS.values() if api.attribute for op in api.operations]
IDS = [f"{api.name}.{op.operation_id}" for api, op in CASES]

#: Query values the spec's samples cannot give (a registered redirect URI, a statistic that exists).
QUERY_VALUES = {"client_id": DEMO_CLIENT_ID, "redirect_uri": DEMO_REDIRECT_URI, "response_type": "code"}


# -- recording the raw answer ------------------------------------------------------------------------


@dataclass
class Recorded:
    responses: list[httpx.Response] = field(default_factory=list)

    @property
    def last(self) -> httpx.Response:
        return self.responses[-1]


class _Recorder(httpx.BaseTransport):
    def __init__(self, recorded: Recorded) -> None:
        self._inner = httpx.HTTPTransport()
        self._recorded = recorded

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        response.read()
        self._recorded.responses.append(response)
        return response

    def close(self) -> None:
        self._inner.close()


class _AsyncRecorder(httpx.AsyncBaseTransport):
    def __init__(self, recorded: Recorded) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._recorded = recorded

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        await response.aread()
        self._recorded.responses.append(response)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


PARAMS = [pytest.param(api, op, id=f"{api.name}.{op.operation_id}") for api, op in CASES]


def settings(sb: Sandbox) -> Settings:
    return Settings(
        base_url=sb.url,
        api_key=DEMO_API_KEY,
        ccid=DEMO_CCID,
        channel_secrets={DEMO_CHANNEL_ID: DEMO_CHANNEL_SECRET},
        oauth=OAuth2Credentials(
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            grant_type="password",
            username=DEMO_USERNAME,
            password=DEMO_PASSWORD,
        ),
        timeout=30,
    )


# -- the call a user would write ---------------------------------------------------------------------


def _annotations(method: Callable[..., Any], api: ApiEntry) -> Mapping[str, Any]:
    """The method's annotations as objects (models load lazily, so they are looked up by name)."""
    models = importlib.import_module(f"genesys_cx_api.{api.name}.models")
    func = getattr(method, "__func__", method)

    class Names(dict[str, Any]):
        def __missing__(self, name: str) -> Any:
            if name in func.__globals__:
                return func.__globals__[name]
            if name == "Any":
                return Any
            if hasattr(builtins, name):
                return getattr(builtins, name)
            return getattr(models, name)

    hints = {}
    for name, text in func.__annotations__.items():
        hints[name] = eval(text, {"__builtins__": __builtins__}, Names()) if isinstance(text, str) else text
    return hints


def _members(annotation: Any) -> tuple[Any, ...]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _model(annotation: Any, value: Any) -> Any:
    """*value* (JSON) as the type the method takes: a model, a list of models, or the first union
    member that accepts it."""
    errors = []
    for member in _members(annotation):
        if typing.get_origin(member) is list:
            (item,) = typing.get_args(member)
            return [_model(item, v) for v in value]
        if hasattr(member, "from_dict"):
            try:
                return member.from_dict(value)
            except (KeyError, ValueError, TypeError) as exc:
                errors.append(f"{member.__name__}: {exc!r}")
    raise AssertionError(f"no member of {annotation} accepts {value!r}: {errors}")


def _typed(annotation: Any, value: Any) -> Any:
    """A JSON parameter value as the method takes it (an enum member for an enum parameter)."""
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, enum.Enum):
            return member(value)
    return value


class Setup:
    """Creates, through a synchronous ``Genesys``, what an operation's parameters must name."""

    def __init__(self, genesys: Genesys) -> None:
        self.genesys = genesys

    def call(self, api_name: str, operation_id: str, **body_changes: Any) -> Any:
        """Call *operation_id* with its example request; its answer as JSON values."""
        api = APIS[api_name]
        op = next(o for o in api.operations if o.operation_id == operation_id)
        args, kwargs = self.arguments(api, op, body_changes)
        return _dump(getattr(getattr(self.genesys, str(api.attribute)), op.method)(*args, **kwargs))

    def arguments(
        self, api: ApiEntry, op: OperationEntry, body_changes: Mapping[str, Any] | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        spec, raw = spec_operation(api.name, op.path, op.http_method)
        method = getattr(getattr(self.genesys, str(api.attribute)), op.method)
        hints = _annotations(method, api)
        documented = {
            str(PythonIdentifier(resolve(spec, p)["name"], "field_")): resolve(spec, p)
            for p in raw.get("parameters", [])
        }
        query = required_query(spec, raw)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, parameter in inspect.signature(method).parameters.items():
            if name == "body":
                body = self.body(api, op, example_body(spec, raw), dict(body_changes or {}))
                if body is not None or parameter.default is inspect.Parameter.empty:
                    kwargs["body"] = _model(hints["body"], body)
                continue
            param = documented[name]
            if param["in"] == "path":
                args.append(self.path_value(api, op, param["name"]))
            elif param["name"] in query:
                value = self.query_value(api, op, param["name"], query[param["name"]])
                kwargs[name] = _typed(hints[name], value)
        return args, kwargs

    def body(self, api: ApiEntry, op: OperationEntry, body: Any, changes: dict[str, Any]) -> Any:
        if op.operation_id == "create_interaction":
            body = {"data": {"externalId": changes.get("externalId", uuid.uuid4().hex)}}
        if op.operation_id.startswith("cometd_"):
            body = self.bayeux(op.operation_id.removeprefix("cometd_"), changes.get("clientId"))
        return body

    def bayeux(self, kind: str, client_id: str | None = None) -> list[dict[str, Any]]:
        """The Bayeux messages of one CometD operation, for a session of its own (or *client_id*'s)."""
        handshake = {"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}
        if kind == "handshake":
            return [handshake]
        if client_id is None:
            client_id = str(self.call("statistics", "cometd_handshake")[0]["clientId"])
            if kind in ("connect", "notifications"):
                # A connect is held until the session has a message: subscribe it to the updates of
                # a statistic the sandbox changes every second.
                self.call("statistics", "cometd_subscribe", clientId=client_id)
                self.subscription()
        message = {"clientId": client_id}
        if kind in ("connect", "notifications"):
            return [{**message, "channel": "/meta/connect", "connectionType": "long-polling"}]
        if kind == "disconnect":
            return [{**message, "channel": "/meta/disconnect"}]
        return [{**message, "channel": f"/meta/{kind}", "subscription": "/statistics/v3/updates"}]

    def export_job(self, op: OperationEntry, then: str | None = None) -> str:
        """A new export job of *op*'s API and version, optionally suspended or canceled."""
        version = op.operation_id.rsplit("_", 1)[-1] if op.operation_id.endswith(("_v10", "_v4", "_v3")) else ""
        api = next(api for api in APIS.values() if op in api.operations)
        suffix = {"": "", "v10": "_v10", "v4": "_v4", "v3": "_v4"}[version]
        job_id = str(self.call(api.name, f"create_export_job{suffix}")["id"])
        if then is not None:
            self.genesys_call(api, f"{then}_export_job{suffix}", job_id)
        return job_id

    def genesys_call(self, api: ApiEntry, operation_id: str, *args: Any) -> Any:
        method = next(o.method for o in api.operations if o.operation_id == operation_id)
        return getattr(getattr(self.genesys, str(api.attribute)), method)(*args)

    def job_for(self, op: OperationEntry) -> str:
        name = op.operation_id
        if "history" in name:
            return self.export_job(op, then="cancel")  # a canceled job is in the history
        if name.startswith(("resume_", "delete_export_job")):
            return self.export_job(op, then="suspend")  # neither runs nor deletes while in progress
        return self.export_job(op)

    def exported_file(self, op: OperationEntry) -> str:
        """The file of a completed export job (the sandbox of these tests completes jobs at once)."""
        version = op.operation_id.rsplit("_", 1)[-1]
        api = next(api for api in APIS.values() if op in api.operations)
        suffix = {"v10": "_v10", "v4": "_v4", "v3": "_v4"}.get(version, "")
        return str(self.call(api.name, f"create_export_job{suffix}")["fileName"])

    def path_value(self, api: ApiEntry, op: OperationEntry, name: str) -> str:
        if name in PATH_VALUES:
            return PATH_VALUES[name]
        makers: dict[str, Callable[[], Any]] = {
            "mediaId": lambda: self.call("messaging", "upload_media")["data"]["mediaId"],
            "interactionId": lambda: self.call("open_media", "create_interaction")["data"]["interactionId"],
            "externalId": lambda: self.external_id(),
            "secureMailId": lambda: self.call("secure_email", "send_secure_email")["secureMailId"],
            "statisticName": lambda: "CurrentAgentState",
            "certificatefilename": lambda: "certificate.pem",
            "filename": lambda: self.exported_file(op),
            "id": lambda: self.subscription() if api.name == "statistics" else self.job_for(op),
        }
        return str(makers[name]())

    def external_id(self) -> str:
        external = uuid.uuid4().hex
        self.call("open_media", "create_interaction", externalId=external)
        return external

    def subscription(self) -> str:
        return str(self.call("statistics", "create_subscription")["data"]["subscriptionId"])

    def query_value(self, api: ApiEntry, op: OperationEntry, name: str, sampled: Any) -> Any:
        if name == "jobIDs":
            return self.job_for(op)
        if name == "filename":
            return self.exported_file(op)
        return QUERY_VALUES.get(name, sampled)


# -- checking the typed answer -----------------------------------------------------------------------


def _conforms(value: Any, annotation: Any) -> bool:
    for member in _members(annotation):
        if member is Any:
            return True
        if typing.get_origin(member) is list:
            (item,) = typing.get_args(member)
            if isinstance(value, list) and all(_conforms(v, item) for v in value):
                return True
        elif member is None or member is types.NoneType:
            if value is None:
                return True
        elif isinstance(member, type) and isinstance(value, member):
            return True
    return False


def _dump(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if hasattr(value, "payload"):  # File
        return value.payload.read()
    return value


def _untyped(value: Any, path: str = "") -> list[str]:
    """Where *value* holds a field its model does not type: a documented model (one with fields)
    keeping something in ``additional_properties`` means the sandbox sent a field the spec does not
    document, or the generator failed to type one it does."""
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _untyped(item, f"{path}[{i}]")]
    fields = getattr(value, "_fields", None)
    if not fields:  # a scalar, or an open map (user data, properties): untyped by design
        return []
    found = [f"{path}.{key}".lstrip(".") for key in value.additional_properties]
    for attribute, name in fields:
        found += _untyped(getattr(value, attribute), f"{path}.{name}")
    return found


def check_answer(op: OperationEntry, result: Any, returns: Any, raw: httpx.Response) -> None:
    assert _conforms(result, returns), f"{op.operation_id} returned {type(result).__name__}, declared {returns}"
    assert _untyped(result) == [], f"{op.operation_id}: fields not typed by the answer's model"
    if raw.is_redirect:  # a documented redirect answer: its Location, with the parameters it carries
        location = raw.headers["location"]
        url = urllib.parse.urlsplit(location)
        carried = urllib.parse.parse_qsl(url.query) + urllib.parse.parse_qsl(url.fragment)
        assert carried and _dump(result) == {**dict(carried), "location": location}
        return
    if not raw.content:
        assert result is None
        return
    if raw.headers.get("content-type", "").startswith("application/json"):
        assert _dump(result) == raw.json()
    else:
        assert _dump(result) == raw.content or _dump(result) == raw.text


# -- the tests ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, Sandbox]]:
    """Two sandboxes: export jobs that run for an hour (to suspend, resume, cancel them) and export
    jobs that complete at once (to list, download and delete their files). ``authorize`` signs the
    demo user in without a form."""
    with (
        Sandbox(SandboxConfig(export_job_duration=3600, auto_login=DEMO_USERNAME)) as running,
        Sandbox(SandboxConfig(export_job_duration=0)) as done,
    ):
        yield {"running": running, "done": done}


def _sandbox_for(sandboxes: dict[str, Sandbox], api: ApiEntry, op: OperationEntry) -> Sandbox:
    spec, raw = spec_operation(api.name, op.path, op.http_method)
    names = {resolve(spec, p)["name"] for p in raw.get("parameters", []) if resolve(spec, p).get("required")}
    return sandboxes["done" if "filename" in names else "running"]


def test_the_registry_has_every_operation() -> None:
    assert len(CASES) == 117
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize(("api", "op"), PARAMS)
def test_every_operation_through_genesys(sandboxes: dict[str, Sandbox], api: ApiEntry, op: OperationEntry) -> None:
    sb = _sandbox_for(sandboxes, api, op)
    recorded = Recorded()
    with Genesys(settings(sb), transport=_Recorder(recorded)) as genesys:
        args, kwargs = Setup(genesys).arguments(api, op)
        before = len(sb.state.response_violations)
        method = getattr(getattr(genesys, str(api.attribute)), op.method)
        result = method(*args, **kwargs)
        check_answer(op, result, _annotations(method, api)["return"], recorded.last)
    assert sb.state.response_violations[before:] == []


@pytest.mark.parametrize(("api", "op"), PARAMS)
async def test_every_operation_through_async_genesys(
    sandboxes: dict[str, Sandbox], api: ApiEntry, op: OperationEntry
) -> None:
    sb = _sandbox_for(sandboxes, api, op)
    with Genesys(settings(sb)) as setup:
        args, kwargs = Setup(setup).arguments(api, op)
    recorded = Recorded()
    before = len(sb.state.response_violations)
    async with AsyncGenesys(settings(sb), transport=_AsyncRecorder(recorded)) as genesys:
        method = getattr(getattr(genesys, str(api.attribute)), op.method)
        result = await method(*args, **kwargs)
        check_answer(op, result, _annotations(method, api)["return"], recorded.last)
    assert sb.state.response_violations[before:] == []
