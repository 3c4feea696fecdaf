"""Connection settings (kube/client.py): options, K8S_AUTH_* environment, kubeconfig, one-line errors."""

from __future__ import annotations

import pytest

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    ENV_VARIABLES,
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
    assert spec["kubeconfig"]["no_log"] is True  # a kubeconfig given as a dict holds credentials
    assert spec["proxy_headers"]["options"]["proxy_basic_auth"]["no_log"] is True
    assert "no_log" not in spec["context"]


def test_connection_options_match_kubernetes_core():
    """Every connection option of kubernetes.core, with its type and aliases, so one module_defaults serves both."""
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

    ours = connection_argument_spec()
    for name, theirs in AUTH_ARG_SPEC.items():
        assert name in ours, f"kubernetes.core has connection option {name}, we do not"
        assert ours[name]["type"] == theirs.get("type", "str"), name
        assert sorted(ours[name].get("aliases", [])) == sorted(theirs.get("aliases", [])), name
        assert set(ours[name].get("options", {})) == set(theirs.get("options", {})), name


def test_environment_variables_are_the_ones_kubernetes_core_reads():
    """kubernetes.core reads K8S_AUTH_<option>, then K8S_AUTH_<the kubernetes client's name> (AWX sets the latter)."""
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_MAP

    for client_name, option in AUTH_ARG_MAP.items():
        if option == "proxy_headers":  # one variable per suboption, tested below
            continue
        names = list(dict.fromkeys([f"K8S_AUTH_{option.upper()}", f"K8S_AUTH_{client_name.upper()}"]))
        assert list(ENV_VARIABLES[option]) == names, option
    both = {"K8S_AUTH_CA_CERT": "/ca/option.crt", "K8S_AUTH_SSL_CA_CERT": "/ca/awx.crt"}
    assert settings_from_params({}, both).ca_cert == "/ca/option.crt"
    awx = {"K8S_AUTH_SSL_CA_CERT": "/ca/awx.crt", "K8S_AUTH_VALIDATE_CERTS": "false"}
    settings = settings_from_params({}, awx)
    assert (settings.ca_cert, settings.validate_certs) == ("/ca/awx.crt", False)
    assert settings_from_params({}, {"K8S_AUTH_CLIENT_KEY": "/k"}).client_key == "/k"


def test_new_options_fall_back_to_their_environment_variables():
    env = {
        "K8S_AUTH_NO_PROXY": "10.0.0.0/8,.cluster.local",
        "K8S_AUTH_PERSIST_CONFIG": "yes",
        "K8S_AUTH_IMPERSONATE_USER": "system:serviceaccount:ops:deployer",
        "K8S_AUTH_IMPERSONATE_GROUPS": "ops, auditors,",
        "K8S_AUTH_PROXY_HEADERS_USER_AGENT": "rk/1.0",
        "K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH": "u:p",
    }
    settings = settings_from_params({}, env)
    assert settings.no_proxy == "10.0.0.0/8,.cluster.local"
    assert settings.persist_config is True
    assert settings.impersonate_user == "system:serviceaccount:ops:deployer"
    assert settings.impersonate_groups == ("ops", "auditors")
    assert settings.proxy_headers == (("proxy_basic_auth", "u:p"), ("user_agent", "rk/1.0"))
    given = settings_from_params({"proxy_headers": {"basic_auth": "a:b", "user_agent": None}}, env)
    assert given.proxy_headers == (("basic_auth", "a:b"),)


def test_proxy_options_reach_the_kubernetes_client():
    settings = settings_from_params(
        {
            "host": "https://10.0.0.1:6443",
            "proxy": "http://proxy.site:3128",
            "no_proxy": "10.0.0.0/8,.cluster.local",
            "proxy_headers": {"proxy_basic_auth": "u:p", "user_agent": "rk/1.0"},
        },
        {},
    )
    configuration = api_client_from_settings(settings, environ={}).configuration
    assert configuration.proxy == "http://proxy.site:3128"
    assert configuration.no_proxy == "10.0.0.0/8,.cluster.local"
    assert configuration.proxy_headers == {"proxy-authorization": "Basic dTpw", "user-agent": "rk/1.0"}


def test_kubeconfig_given_as_a_dict_is_kept_as_data():
    config = {"apiVersion": "v1", "kind": "Config", "contexts": [{"name": "c", "context": {"cluster": "x"}}]}
    settings = settings_from_params({"kubeconfig": config}, {})
    assert settings.kubeconfig is None
    assert settings.kubeconfig_data is not None
    assert hash(settings)  # settings key the client cache


def test_impersonated_groups_need_a_user():
    with pytest.raises(KubeError, match="impersonate_groups needs impersonate_user"):
        api_client_from_settings(
            ConnectionSettings(host="https://127.0.0.1:1", impersonate_groups=("g",)), environ={}
        )


def test_no_connection_at_all_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(KubeError) as err:
        api_client_from_settings(ConnectionSettings(), environ={})
    assert "no Kubernetes connection" in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_kubeconfig_file_names_it(tmp_path):
    with pytest.raises(KubeError, match=r"kubeconfig .*nope does not exist"):
        api_client_from_settings(ConnectionSettings(kubeconfig=str(tmp_path / "nope")), environ={})
