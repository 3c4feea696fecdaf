"""Pure parts of the Kubernetes access layer: settings resolution, rollout maths, messages, masking."""

from __future__ import annotations

import pytest

from ansible_collections.redundant.kube.plugins.module_utils.kube.apply_set import (
    invalid_names,
    prune_candidates,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    ConnectionSettings,
    KubeError,
    api_client_from_settings,
    connection_argument_spec,
    settings_from_params,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.diff import masked, object_diff
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    checksum_annotation_key,
    content_digest,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import (
    label_selector,
    pod_problems,
    rollout_progress,
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


def test_deployment_rollout_progress():
    dep = {
        "kind": "Deployment",
        "metadata": {"generation": 3},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 3, "readyReplicas": 2, "updatedReplicas": 1, "replicas": 3},
    }
    assert rollout_progress(dep) == (False, "2/2 ready, 1/2 updated, 3 in total")
    dep["status"].update(updatedReplicas=2, replicas=2)
    assert rollout_progress(dep)[0] is True
    dep["metadata"]["generation"] = 4
    assert rollout_progress(dep) == (False, "the controller has not seen the new spec yet")


def test_statefulset_waits_for_revision():
    sts = {
        "kind": "StatefulSet",
        "metadata": {"generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "readyReplicas": 1,
            "updatedReplicas": 1,
            "replicas": 1,
            "currentRevision": "a",
            "updateRevision": "b",
        },
    }
    assert rollout_progress(sts)[0] is False
    sts["status"]["currentRevision"] = "b"
    assert rollout_progress(sts)[0] is True


def test_label_selector_string():
    sel = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [{"key": "side", "operator": "In", "values": ["a", "b"]}],
    }
    assert label_selector(sel) == "a=1,b=2,side in (a,b)"


def test_pending_pod_reports_scheduler_message():
    pod = {
        "metadata": {"name": "srv-a-0"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.",
                }
            ],
        },
    }
    assert pod_problems(pod) == (
        "pod srv-a-0 is Pending: 0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules."
    )


def test_secret_values_are_masked_in_diffs():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "resourceVersion": "7"},
        "data": {"keystore.jceks": "c2VjcmV0"},
    }
    shown = masked(secret)
    assert "c2VjcmV0" not in str(shown)
    assert shown["data"]["keystore.jceks"].startswith("<masked sha256:")
    assert secret["data"]["keystore.jceks"] == "c2VjcmV0"  # the input is not modified
    diff = object_diff(None, secret)
    assert diff["before"] == {}
    assert "resourceVersion" not in diff["after"]["metadata"]


def test_digest_ignores_metadata_and_key_is_valid_annotation():
    a = {"kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a": "b"}}, "data": {"k": "v"}}
    b = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}}
    assert content_digest(a) == content_digest(b)
    assert content_digest(a) != content_digest({"data": {"k": "w"}})
    key = checksum_annotation_key("ConfigMap", "n" * 100)
    prefix, name = key.split("/")
    assert prefix == "checksum.redundant.kube"
    assert len(name) <= 63
    assert key == checksum_annotation_key("ConfigMap", "n" * 100)


def live_object(kind, name, manager="redundant.kube", operation="Apply", deleting=False):
    meta = {"name": name, "namespace": "ns", "managedFields": [{"manager": manager, "operation": operation}]}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-05T10:00:00Z"
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def test_prune_candidates_are_what_the_manager_applied_and_the_set_no_longer_has():
    manifests = [live_object("ConfigMap", "app-cfg-y"), live_object("Service", "app")]
    live = [
        live_object("ConfigMap", "app-cfg-y"),  # still rendered
        live_object("ConfigMap", "app-cfg-x"),  # renamed away: pruned
        live_object("Service", "app-extra"),  # removed: pruned
        live_object(
            "PersistentVolumeClaim", "data-app-0", manager="kube-controller-manager", operation="Update"
        ),
        live_object("ConfigMap", "hand-made", manager="kubectl-edit", operation="Update"),
        live_object("Service", "app-old", deleting=True),
        live_object("Service", "app", manager="kubectl", operation="Update"),  # same name, still wanted
    ]
    pruned = prune_candidates(live, manifests, "redundant.kube")
    assert [o["metadata"]["name"] for o in pruned] == ["app-cfg-x", "app-extra"]


def test_invalid_names_are_found_before_any_request():
    def obj(kind, name, namespace="ns"):
        return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}}

    good = [obj("ConfigMap", "app-cfg.v1"), obj("Service", "app"), obj("Namespace", "ns", None)]
    assert invalid_names(good) == []
    bad = [
        obj("ConfigMap", "Bad_Name"),
        obj("Service", "1app"),
        obj("Deployment", "d" * 254),
        obj("Namespace", "a.b", None),
        obj("ConfigMap", "ok", "Bad_NS"),
    ]
    assert invalid_names(bad) == [
        "ConfigMap ns/Bad_Name: the name is not valid for a ConfigMap",
        "Service ns/1app: the name is not valid for a Service",
        f"Deployment ns/{'d' * 254}: the name is not valid for a Deployment",
        "Namespace a.b: the name is not valid for a Namespace",
        "ConfigMap Bad_NS/ok: namespace 'Bad_NS' is not a DNS label",
    ]
