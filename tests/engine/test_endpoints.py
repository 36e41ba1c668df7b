"""Reading endpoints.yml: action server and model server settings, ${VAR} interpolation."""

from __future__ import annotations

import pytest

from engine.endpoints import endpoints_from_yaml, read_endpoints
from engine.errors import ConfigError


def test_it_reads_the_action_endpoint_with_defaults():
    endpoints = endpoints_from_yaml("action_endpoint:\n  url: http://a/webhook\n")
    action = endpoints.action_endpoint
    assert action.url == "http://a/webhook"
    assert (action.token, action.headers, action.enable_selective_domain) == (None, {}, False)
    assert action.timeout == 300.0
    assert endpoints.models is None


def test_it_reads_every_option(monkeypatch):
    monkeypatch.setenv("ACTION_TOKEN", "s3cret")
    text = """
action_endpoint:
  url: http://a/webhook
  token: ${ACTION_TOKEN}
  headers: {X-Id: 7}
  enable_selective_domain: true
  timeout: 5
models:
  url: http://m/model.tar.gz
  token: t
  wait_time_between_pulls: 0
"""
    endpoints = endpoints_from_yaml(text)
    assert endpoints.action_endpoint.token == "s3cret"
    assert endpoints.action_endpoint.headers == {"X-Id": "7"}
    assert endpoints.action_endpoint.enable_selective_domain is True
    assert endpoints.action_endpoint.timeout == 5.0
    assert endpoints.models.url == "http://m/model.tar.gz"
    assert endpoints.models.wait_time_between_pulls == 0.0


def test_it_defaults_the_pull_interval():
    assert endpoints_from_yaml("models: {url: http://m}").models.wait_time_between_pulls == 100.0


def test_it_refuses_an_unset_variable_and_a_missing_url(monkeypatch):
    monkeypatch.delenv("NOPE_VAR", raising=False)
    with pytest.raises(ConfigError, match="NOPE_VAR"):
        endpoints_from_yaml("action_endpoint: {url: '${NOPE_VAR}'}")
    with pytest.raises(ConfigError, match="url"):
        endpoints_from_yaml("action_endpoint: {token: x}")


def test_it_reads_nothing_from_a_missing_file(tmp_path):
    assert read_endpoints(tmp_path / "none.yml").action_endpoint is None
    file = tmp_path / "endpoints.yml"
    file.write_text("action_endpoint:\n  url: http://x\n")
    assert read_endpoints(file).action_endpoint.url == "http://x"
