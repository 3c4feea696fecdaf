"""Connection settings (kube/client.py): options, K8S_AUTH_* environment, kubeconfig, one-line errors."""

from __future__ import annotations

import pytest

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    ConnectionSettings,
    KubeError,
    api_client_from_settings,
    connection_argument_spec,
    settings_from_params,
)


def test_options_win_over_awx_environment():
    env = {
        "K8S_AUTH_KUBECONFIG": "/env/kubeconfig",
        "K8S_AUTH_CONTEXT": "env-ctx",
        "K8S_AUTH_VERIFY_SSL": "no",
    }
    settings = settings_from_params({"context": "mine"}, env)
    assert settings.kubeconfig == "/env/kubeconfig"
    assert settings.context == "mine"
    assert settings.validate_certs is False


def test_bad_boolean_in_environment_names_the_option():
    with pytest.raises(KubeError, match="validate_certs='maybe' is not a boolean"):
        settings_from_params({}, {"K8S_AUTH_VERIFY_SSL": "maybe"})


def test_connection_spec_hides_secrets():
    spec = connection_argument_spec()
    assert spec["api_key"]["no_log"] is True
    assert spec["password"]["no_log"] is True
    assert spec["kubeconfig"]["type"] == "path"
    assert "no_log" not in spec["context"]


def test_no_connection_at_all_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(KubeError) as err:
        api_client_from_settings(ConnectionSettings(), environ={})
    assert "no Kubernetes connection" in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_kubeconfig_file_names_it(tmp_path):
    with pytest.raises(KubeError, match=r"kubeconfig .*nope does not exist"):
        api_client_from_settings(ConnectionSettings(kubeconfig=str(tmp_path / "nope")), environ={})
