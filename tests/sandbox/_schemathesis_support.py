"""Schemathesis against the running sandbox: schemas, credentials, signing over the exact bytes, checks.

``Runner`` loads every bundled spec that has paths with its server set to the sandbox
(``sb.url + APIS[api].base_path``), generates the cases of every phase of one operation, both modes,
attaches the credentials the operation's security requires (its first alternative), sends each
case with httpx and runs schemathesis's response checks on the answer one by one, counting
``Figures``. Whether a refusal came from the sandbox's own security or validation (a "valid
rejected" when the case is positive) is read from the inspector's row of the request.

Credentials are given to schemathesis as *overrides* so that negative generation never mutates
them: a negative case is invalid in what the spec describes, never in credentials it could not
know. ``channelId``, ``openMediaService`` and ``x-ccid`` are fixed too: an unknown channel is
refused before validation (its secret is what signs the request), an unknown Open Media service
is a 404 and another tenant's ``x-ccid`` a 4xx that no generated value can avoid.
``X-Hub-Signature`` is computed after the body is serialised, over the bytes httpx then sends.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import hypothesis
import requests
import schemathesis
from genesys_cx_api._registry import APIS
from hypothesis import HealthCheck, Phase
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from genesys_cx.sandbox import (
    DEMO_API_KEY,
    DEMO_CCID,
    DEMO_CHANNEL_ID,
    DEMO_CHANNEL_SECRET,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    Sandbox,
)
from genesys_cx.sandbox._specs import load_spec
from genesys_cx.signing import HEADER as SIGNATURE_HEADER
from genesys_cx.signing import sign

#: Fuzzed examples per operation, both modes together (117 operations, 56 of them with negative cases).
MAX_EXAMPLES = 6

#: The phases every operation goes through: the spec's examples, schemathesis's coverage phase
#: (every boundary and negation the schema defines; unbounded by design, ~30 cases per operation on
#: average) and fuzzing (MAX_EXAMPLES, both modes). The stateful phase needs OpenAPI links, which no
#: bundled spec documents (the docs describe none).
PHASES = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]

#: Path parameters a case cannot meaningfully vary (see the module docstring).
FIXED_PATH = {"channelId": DEMO_CHANNEL_ID, "openMediaService": "demo"}

#: Operations that revoke the bearer token they are called with: each case gets a token of its own
#: (client credentials, so ``global=true`` cannot revoke the user's shared token either).
REVOKING = frozenset({"sign_out", "sign_out_get"})

#: What every answer must satisfy; negative cases must also be refused with a 4xx.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]

#: The only 5xx answers accepted: where the docs prescribe a 500 for a request the client got wrong,
#: with a documented body (checked like any other answer). Everything else must not be a 5xx.
DOCUMENTED_SERVER_ERRORS: dict[tuple[str, str], str] = {
    # "In case if some jobs/files cannot be deleted internal server error is returned with a list of
    # jobs/files that weren't deleted as json array in the body" (001 lines 2011, 2197, 2623, 10816,
    # 11262, 12070); unknown ids cannot be deleted, and generated ids are unknown.
    ("data_download", "delete_files"): "001 line 2011",
    ("data_download", "delete_export_history_jobs"): "001 line 2197",
    ("data_download", "delete_export_jobs"): "001 line 2623",
    ("udm", "delete_export_history_v4"): "001 line 10816",
    ("udm", "delete_export_jobs_v4"): "001 line 11262",
    ("udm", "delete_files_v3"): "001 line 12070",
    # The docs document no 4xx for this operation, only 500/503/504 (001 lines 6272-6594), and the
    # Introduction's error example is `{"status": {"code": 500, "message": "Resource not found"}}`
    # (001 lines 239-253): a subscription id that does not exist (every generated one) gets that 500.
    ("statistics", "get_subscription_statistic_values"): "001 lines 239-253",
}

_CONFIG = {
    # A negative case must be refused with a client error; which 4xx, status_code_conformance says.
    "checks": {"negative_data_rejection": {"expected-statuses": ["4xx"]}},
    "generation": {"mode": "all"},
}


def apis() -> list[str]:
    """The APIs with operations (``interactions`` has only webhooks)."""
    return sorted(name for name, api in APIS.items() if api.operations)


@dataclass(frozen=True)
class Target:
    """One operation of one API, known before any sandbox runs (for test ids)."""

    api: str
    path: str
    method: str
    operation_id: str
    security: tuple[frozenset[str], ...]
    negatable: bool  # whether a request can break the spec in anything but credentials

    @property
    def id(self) -> str:
        return f"{self.api}.{self.operation_id}"


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


_CONSTRAINTS = ("enum", "const", "pattern", "format", "minLength", "maxLength")


def _negatable(spec: dict[str, Any], parameters: list[dict[str, Any]], operation: dict[str, Any]) -> bool:
    """Whether some request violates the spec in more than credentials and the fixed path parameters.

    A body, or a query/header parameter that is required or more than an unconstrained string, can
    be broken. Path parameters are unconstrained strings in every spec (and a fixed one is never
    varied): any value is valid, so an operation with nothing else has no negative case to make.
    """
    if "requestBody" in operation:
        return True
    for parameter in (_resolve(spec, p) for p in parameters):
        if parameter["in"] not in ("query", "header"):
            continue
        schema = _resolve(spec, parameter.get("schema", {}))
        if parameter.get("required") or schema.get("type") != "string" or any(k in schema for k in _CONSTRAINTS):
            return True
    return False


def targets() -> list[Target]:
    found = []
    for api in apis():
        spec = load_spec(api)
        for path, item in spec["paths"].items():
            for method in ("get", "post", "put", "delete", "patch"):
                if method in item:
                    op = item[method]
                    security = tuple(frozenset(r) for r in op.get("security", spec.get("security", [])))
                    negatable = _negatable(spec, item.get("parameters", []) + op.get("parameters", []), op)
                    found.append(Target(api, path, method, op["operationId"], security, negatable))
    return found


def _schema(api: str, server: str) -> Any:
    spec = json.loads(json.dumps(load_spec(api)))  # a private copy: schemathesis may annotate it
    spec["servers"] = [{"url": server}]
    return schemathesis.openapi.from_dict(spec, config=schemathesis.Config.from_dict(_CONFIG))


@dataclass
class Exchange:
    """One case as sent and answered."""

    case: Case[Any]
    request: httpx.Request
    response: httpx.Response


@dataclass
class Figures:
    """What the cases of one or more operations found (``problems``: each failed check, described)."""

    cases: Counter[str] = field(default_factory=Counter)  # by "<phase> <mode>"
    server_errors: int = 0  # 5xx answers the docs do not prescribe
    valid_rejected: int = 0  # positive cases the sandbox refused (security or validation)
    invalid_accepted: int = 0  # negative cases answered with a success
    problems: list[str] = field(default_factory=list)

    def add(self, other: Figures) -> None:
        self.cases.update(other.cases)
        self.server_errors += other.server_errors
        self.valid_rejected += other.valid_rejected
        self.invalid_accepted += other.invalid_accepted
        self.problems += other.problems

    def as_dict(self) -> dict[str, Any]:
        """Plain data (what an xdist worker sends to the controller; see tests/_suite.py)."""
        return {**asdict(self), "cases": dict(self.cases)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figures:
        return cls(**{**data, "cases": Counter(data["cases"])})

    def line(self) -> str:
        return (
            f"cases {sum(self.cases.values())} ({', '.join(f'{k} {v}' for k, v in sorted(self.cases.items()))}); "
            f"5xx {self.server_errors}; valid rejected {self.valid_rejected}; "
            f"invalid accepted {self.invalid_accepted}"
        )


#: The figures of every operation run in this session (printed in the terminal summary).
FIGURES = Figures()
_traces = itertools.count(1)


@dataclass
class Runner:
    """Generates, sends and checks the cases of one operation against a running sandbox."""

    sb: Sandbox
    client: httpx.Client
    schemas: dict[str, Any] = field(default_factory=dict)
    token: str = ""

    @classmethod
    def start(cls, sb: Sandbox, client: httpx.Client) -> Runner:
        runner = cls(sb, client, {api: _schema(api, sb.base_url(api)) for api in apis()})
        runner.token = runner.new_token(password=True)
        return runner

    def new_token(self, *, password: bool = False) -> str:
        """A bearer token from the sandbox's token endpoint (password grant, or client credentials)."""
        form = (
            {"grant_type": "password", "username": DEMO_USERNAME, "password": DEMO_PASSWORD}
            if password
            else {"grant_type": "client_credentials"}
        )
        answer = self.client.post(
            self.sb.base_url("auth") + "/oauth/token",
            data=form,
            headers={"x-api-key": DEMO_API_KEY},
            auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    # -- credentials ---------------------------------------------------------------------------

    def fixed_headers(self, target: Target, mode: GenerationMode) -> dict[str, str]:
        """The headers schemathesis must not generate: credentials, and ``x-ccid`` for positive cases."""
        requirement = target.security[0] if target.security else frozenset()
        headers: dict[str, str] = {}
        if "apiKey" in requirement:
            headers["x-api-key"] = DEMO_API_KEY
        if "hubSignature" in requirement:
            headers[SIGNATURE_HEADER] = "sha1=computed-when-sent"
        if requirement & {"bearer", "oauth2"}:
            headers["Authorization"] = f"Bearer {self.token}"
        if "clientBasic" in requirement:
            basic = base64.b64encode(f"{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {basic}"
        if mode is GenerationMode.POSITIVE and self._has_header(target, "x-ccid"):
            # Any string is valid for the spec, but the sandbox's tenant is DEMO_CCID; negative cases
            # may still omit or break it (and a generated, wrong ccid must be refused with a 4xx).
            headers["x-ccid"] = DEMO_CCID
        return headers

    def _has_header(self, target: Target, name: str) -> bool:
        operation = self.schemas[target.api][target.path][target.method]
        return any(p.location == "header" and p.name.lower() == name for p in operation.iter_parameters())

    def fixed_path(self, target: Target) -> dict[str, str]:
        return {k: v for k, v in FIXED_PATH.items() if "{" + k + "}" in target.path}

    # -- generation ----------------------------------------------------------------------------

    def run_phases(self, target: Target, max_examples: int = MAX_EXAMPLES) -> Figures:
        """Every case of every phase (``PHASES``, both modes) of *target*, sent and checked; the figures.

        Credentials, the fixed path parameters and ``x-ccid`` are overridden in every case (a
        generated ``x-ccid`` names another tenant: no case can be valid with it).
        """
        operation = self.schemas[target.api][target.path][target.method]
        figures = Figures()
        revoking = target.operation_id in REVOKING
        settings = hypothesis.settings(
            max_examples=max_examples,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded even when it fails
            suppress_health_check=list(HealthCheck),
        )
        override = Override(
            headers=self.fixed_headers(target, GenerationMode.POSITIVE),
            path_parameters=self.fixed_path(target),
        )

        def each(case: Case[Any]) -> None:
            if revoking:
                case.headers["Authorization"] = f"Bearer {self.new_token()}"
            self.tally(case, target, figures)

        config = HypothesisTestConfig(
            project=self.schemas[target.api].config, modes=PHASES, settings=settings, override=override
        )
        create_test(operation=operation, test_func=each, config=config)()
        return figures

    def tally(self, case: Case[Any], target: Target, figures: Figures) -> None:
        """Send *case* and count what its answer says (see ``Figures``)."""
        mode = case.meta.generation.mode if case.meta is not None else GenerationMode.POSITIVE
        phase = case.meta.phase.name.value if case.meta is not None else "explicit"
        figures.cases[f"{phase} {mode.value}"] += 1
        trace = f"{next(_traces):032x}"
        case.headers["X-B3-TraceId"] = trace
        exchange = self.send(case, target.api)
        status = exchange.response.status_code
        documented_500 = (target.api, target.operation_id) in DOCUMENTED_SERVER_ERRORS and status == 500
        where = f"{target.id} [{phase} {mode.value}] {case.method} {exchange.request.url.path} -> {status}"
        if status >= 500 and not documented_500:
            figures.server_errors += 1
        if mode is GenerationMode.POSITIVE and status >= 400 and self.refused(trace):
            figures.valid_rejected += 1
            figures.problems.append(f"{where}: a valid request refused: {exchange.response.text[:300]}")
        checks = NEGATIVE_CHECKS if mode is GenerationMode.NEGATIVE else CHECKS
        if documented_500:
            checks = [c for c in checks if c is not not_a_server_error]  # still documented, body checked
        headers = dict(exchange.request.headers)
        try:  # all checks at once: what nearly every answer passes
            case.validate_response(exchange.response, checks=checks, headers=headers)
            return
        except (AssertionError, FailureGroup):
            pass  # run them one by one below, to name each failing check
        for check in checks:
            try:
                case.validate_response(exchange.response, checks=[check], headers=headers)
            except (AssertionError, FailureGroup) as failure:
                if check is negative_data_rejection:
                    figures.invalid_accepted += 1
                figures.problems.append(f"{where}: {check.__name__}: {str(failure)[:300]}")

    def refused(self, trace: str) -> bool:
        """Whether the sandbox refused the request of *trace* itself (security or validation).

        Read from the inspector's row of the request, which is recorded once the answer is out.
        """
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for event in self.sb.state.events.events(kind="request"):
                if event.summary.get("trace") == trace:
                    return bool(event.summary.get("check") == "failed")
            time.sleep(0.005)
        raise AssertionError(f"the sandbox recorded no request with trace {trace}")

    # -- one case ------------------------------------------------------------------------------

    def send(self, case: Case[Any], api: str) -> Exchange:
        """Serialise *case* as schemathesis would, sign the exact body bytes, send it with httpx."""
        kwargs = case.as_transport_kwargs(base_url=self.sb.base_url(api))
        prepared = requests.Request(
            method=kwargs["method"],
            url=kwargs["url"],
            headers=kwargs.get("headers"),
            params=kwargs.get("params"),
            cookies=kwargs.get("cookies"),
            files=kwargs.get("files"),
            data=kwargs.get("data"),
            json=kwargs.get("json"),
        ).prepare()
        raw = prepared.body
        body = raw.encode("utf-8") if isinstance(raw, str) else raw if isinstance(raw, bytes) else b""
        headers = {k: str(v) for k, v in prepared.headers.items() if k.lower() != "content-length"}
        if SIGNATURE_HEADER.lower() in {k.lower() for k in headers}:
            headers = {k: v for k, v in headers.items() if k.lower() != SIGNATURE_HEADER.lower()}
            headers[SIGNATURE_HEADER] = sign(DEMO_CHANNEL_SECRET, body)
        request = self.client.build_request(prepared.method or "GET", prepared.url or "", headers=headers, content=body)
        return Exchange(case, request, self.client.send(request))
