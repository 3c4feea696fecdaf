"""Connection options as kubernetes.core has them, against the real kube-apiserver of the local control plane:
KUBECONFIG lists merged as kubectl merges them, a kubeconfig given as a dict, impersonation (each group its
own header, as the API server reads them; exec, which cannot carry it, refused), exec refused by RBAC naming
the verb and resource, and the http active_probe through the API server's pod proxy."""

from __future__ import annotations

import http.server
import socket
import threading
from pathlib import Path

import pytest
import yaml
from ansible_run import run_module

from ansible_collections.redundant.kube.plugins.module_utils.app.report import call_probe
from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    ConnectionSettings,
    KubeError,
    api_client_from_settings,
    settings_from_params,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    LABEL_WORKLOAD_KIND,
    exec_in_pod,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources


def split_kubeconfig(kubeconfig: str, tmp_path: Path) -> tuple[Path, Path]:
    """a.yaml: a context to nowhere, current; b.yaml: the cluster's own, renamed ctx-b."""
    config = yaml.safe_load(Path(kubeconfig).read_text())
    config["contexts"][0]["name"] = "ctx-b"
    config["current-context"] = "ctx-b"
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(config))
    a = tmp_path / "a.yaml"
    a.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "nobody", "user": {"token": "x"}}],
                "contexts": [{"name": "ctx-a", "context": {"cluster": "nowhere", "user": "nobody"}}],
                "current-context": "ctx-a",
            }
        )
    )
    return a, b


def test_kubeconfig_list_in_the_environment_is_merged_like_kubectl(kube_cluster, tmp_path):
    a, b = split_kubeconfig(kube_cluster.kubeconfig, tmp_path)
    settings = settings_from_params({"context": "ctx-b"}, {})
    client = api_client_from_settings(
        settings, environ={"KUBECONFIG": f"{a}:{tmp_path / 'missing.yaml'}:{b}"}
    )
    assert Resources(client).get("v1", "Namespace", "default") is not None


def test_kubeconfig_option_with_several_files_is_merged(kube_cluster, tmp_path):
    a, b = split_kubeconfig(kube_cluster.kubeconfig, tmp_path)
    client = api_client_from_settings(ConnectionSettings(kubeconfig=f"{a}:{b}", context="ctx-b"), environ={})
    assert Resources(client).get("v1", "Namespace", "default") is not None
    with pytest.raises(
        KubeError, match=r"context 'ctx-c' is not in kubeconfig .*a\.yaml:.*b\.yaml: use one of ctx-a, ctx-b"
    ):
        api_client_from_settings(ConnectionSettings(kubeconfig=f"{a}:{b}", context="ctx-c"), environ={})


def test_kubeconfig_as_a_dict_reaches_the_cluster_through_a_module(kube_cluster):
    config = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    run = run_module("cluster_info", {"kubeconfig": config}, env={"KUBECONFIG": "", "HOME": "/nonexistent"})
    assert not run.failed, run.result.get("msg")
    assert run.result["nodes"]
    # The dict holds credentials: it is never shown back.
    assert "client-key-data" not in run.stdout


def test_impersonation_sends_the_user_and_every_group(kube_cluster):
    settings = ConnectionSettings(
        kubeconfig=kube_cluster.kubeconfig, impersonate_user="alice", impersonate_groups=("team-a", "team-b")
    )
    resources = Resources(api_client_from_settings(settings, environ={}))
    review = resources.create({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    user = review["status"]["userInfo"]
    assert user["username"] == "alice"
    assert {"team-a", "team-b"} <= set(user["groups"])
    # alice has no rights: the API server judged the request as her.
    with pytest.raises(KubeError, match=r'User "alice" cannot list resource "secrets"'):
        resources.list("v1", "Secret", "default")


def token_without_rights(resources: Resources, namespace: str, kubeconfig: str) -> ConnectionSettings:
    """Connection settings as AWX's credential gives them: a ServiceAccount's token that no role grants anything."""
    resources.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nobody", "namespace": namespace}}
    )
    answer = resources.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/nobody/token",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 600},
        },
        what="a token of the ServiceAccount",
    )
    cluster = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]
    return ConnectionSettings(
        host=cluster["server"], api_key=answer["status"]["token"], ca_cert=cluster["certificate-authority"]
    )


def test_exec_refused_by_rbac_fails_naming_the_verb_and_resource(kube_cluster, resources, namespace):
    """An exec active_probe without the right to exec is an error to fix, not "this side is not active"."""
    settings = token_without_rights(resources, namespace, kube_cluster.kubeconfig)
    client = api_client_from_settings(settings, environ={})
    forbidden = (
        rf'exec in pod {namespace}/server-a is forbidden: pods "server-a" is forbidden: User '
        rf'"system:serviceaccount:{namespace}:nobody" cannot get resource "pods/exec"'
    )
    with pytest.raises(KubeError, match=forbidden):
        exec_in_pod(client, namespace, "server-a", ["true"], timeout=5)
    server = {
        "metadata": {"name": "server-a", "labels": {LABEL_WORKLOAD_KIND: "server"}},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    with pytest.raises(KubeError, match=forbidden):
        call_probe(client, namespace)({"type": "exec", "command": ["true"]}, [server])


def test_exec_is_refused_when_impersonating(kube_cluster):
    """The websocket exec takes only the Authorization header: run as the connection's own user, it would
    bypass the impersonated user's rights."""
    settings = ConnectionSettings(kubeconfig=kube_cluster.kubeconfig, impersonate_user="alice")
    client = api_client_from_settings(settings, environ={})
    with pytest.raises(KubeError, match="exec in pod default/any cannot be impersonated"):
        exec_in_pod(client, "default", "any", ["true"], timeout=5)


def _host_address() -> str:
    """This machine's address on its default route: the API server refuses to proxy to loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: connect() on UDP only picks the route
        return probe.getsockname()[0]


class ActiveHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # the name http.server calls
        self.send_response(200 if self.path == "/active" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_pod_proxy_reaches_a_real_http_server_simulated_kubelet(resources, namespace):
    """A real HTTP server on this host stands for the pod's process: the pod object (kubelet simulated by
    kwok) gets this host's address as its IP, and the real API server proxies the GET to it."""
    server = http.server.HTTPServer(("0.0.0.0", 0), ActiveHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        pod = resources.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "probe-target", "namespace": namespace},
                "spec": {
                    "nodeName": "node-1",
                    "containers": [{"name": "main", "image": "registry.invalid/x:1"}],
                },
            }
        )
        status = {
            "status": {
                "podIP": _host_address(),
                "podIPs": [{"ip": _host_address()}],
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
            }
        }
        resources.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}/status",
            body=status,
            content_type="application/merge-patch+json",
            what="the pod's status",
        )
        port = server.server_address[1]
        assert resources.pod_proxy_status(namespace, "probe-target", port, "/active") == 200
        assert resources.pod_proxy_status(namespace, "probe-target", port, "/passive") == 404
        assert resources.pod_proxy_status(namespace, "probe-target", 1, "/active") is None
        # The app's http active_probe with via: api_server, as app_info, license and drill ask it.
        pod = resources.get("v1", "Pod", "probe-target", namespace)
        pod["metadata"].setdefault("labels", {})[LABEL_WORKLOAD_KIND] = "server"
        probe = {"type": "http", "via": "api_server", "port": port, "path": "/active", "scheme": "http"}
        ask = call_probe(resources.api_client, namespace)
        assert ask(probe, [pod]) == [pod]
        assert ask({**probe, "path": "/passive"}, [pod]) == []
    finally:
        server.shutdown()
