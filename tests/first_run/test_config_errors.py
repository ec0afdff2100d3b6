"""Configuration errors name the variable or key, and what it expects (``ConfigurationError``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_cx import Settings
from genesys_cx._cli import main
from genesys_cx.errors import ConfigurationError, GenesysError
from genesys_cx.sandbox import SandboxConfig

BASE = {"GENESYS_BASE_URL": "https://gapi-use1.genesyscloud.com"}


@pytest.mark.parametrize(
    ("env", "named", "expects"),
    [
        ({"GENESYS_TIMEOUT": "abc"}, "GENESYS_TIMEOUT", "number of seconds"),
        ({"GENESYS_TIMEOUT": "-3"}, "GENESYS_TIMEOUT", "greater than 0"),
        ({"GENESYS_TIMEOUT": "nan"}, "GENESYS_TIMEOUT", "number of seconds"),
        ({"GENESYS_CHANNEL_SECRETS": "no-equals-sign"}, "GENESYS_CHANNEL_SECRETS", "channelA=secretA"),
        ({"GENESYS_CLIENT_ID": "c"}, "GENESYS_CLIENT_SECRET", "client_credentials grant"),
        (
            {"GENESYS_CLIENT_ID": "c", "GENESYS_CLIENT_SECRET": "s", "GENESYS_GRANT_TYPE": "pw"},
            "GENESYS_GRANT_TYPE",
            "password",
        ),
        (
            {"GENESYS_CLIENT_ID": "c", "GENESYS_CLIENT_SECRET": "s", "GENESYS_GRANT_TYPE": "password"},
            "GENESYS_USERNAME, GENESYS_PASSWORD",
            "password grant",
        ),
        ({"GENESYS_BASE_URL": "gapi-use1.genesyscloud.com"}, "GENESYS_BASE_URL", "http:// or https://"),
    ],
)
def test_a_bad_environment_variable_is_named(env: dict[str, str], named: str, expects: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**BASE, **env})
    assert named in caught.value.message and expects in caught.value.message
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, GenesysError)
    assert caught.value.__cause__ is None  # one line, not float()'s traceback behind it


def test_no_base_url_says_which_variable() -> None:
    with pytest.raises(ConfigurationError, match="GENESYS_BASE_URL"):
        Settings.from_env({})


def test_a_valid_environment_still_loads() -> None:
    settings = Settings.from_env(
        {**BASE, "GENESYS_TIMEOUT": "2.5", "GENESYS_CLIENT_ID": "c", "GENESYS_CLIENT_SECRET": "s"}
    )
    assert settings.timeout == 2.5 and settings.oauth is not None and settings.oauth.grant_type == "client_credentials"


# -- the sandbox's configuration file -------------------------------------------------------------


def test_channels_5_in_a_toml_file_names_the_key_and_the_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sandbox.toml"
    config.write_text("channels = 5\n")
    assert main(["sandbox", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    expected = "config.channels: expected a list of SandboxChannel tables, got int 5"
    assert err == f"genesys-cx sandbox: error: {config}: {expected}\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"channels": 5}, "config.channels: expected a list of SandboxChannel tables, got int 5"),
        ({"channels": [{"id": 7, "secret": "s"}]}, "config.channels[0].id: expected a string, got int 7"),
        ({"token_lifetime": "long"}, "config.token_lifetime: expected a number, got str 'long'"),
        ({"validate_responses": "yes"}, "config.validate_responses: expected true or false, got str 'yes'"),
        ({"ccid": 3}, "config.ccid: expected a string (or null), got int 3"),
        ({"delivery": {"attempts": "3"}}, "config.delivery.attempts: expected an integer, got str '3'"),
        (
            {"open_media_services": "workitem"},
            "config.open_media_services: expected a list of strings, got str 'workitem'",
        ),
        ({"faults": [{"status": True}]}, "config.faults[0].status: expected an integer (or null), got bool True"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_key_and_the_expected_type(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SandboxConfig.from_mapping(data)
    assert caught.value.message == message


def test_a_secret_of_the_wrong_type_is_not_echoed() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SandboxConfig.from_mapping({"api_keys": ["k1", 123456789]})
    assert "123456789" not in str(caught.value) and "k1" not in str(caught.value)
    assert "config.api_keys: expected a list of strings" in caught.value.message


_FIELDS = [field.name for field in dataclasses.fields(SandboxConfig)]
_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(_FIELDS), value=_ANY)
def test_any_value_either_loads_or_is_refused_naming_its_key(key: str, value: object) -> None:
    try:
        SandboxConfig.from_mapping({key: value})
    except ConfigurationError as exc:
        assert f"config.{key}" in exc.message or "DeliveryPolicy" in exc.message or "Fault" in exc.message, exc.message
