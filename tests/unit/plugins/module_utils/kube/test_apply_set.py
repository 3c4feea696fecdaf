"""What apply_set decides from the server's answers (kube/apply_set.py)."""

from __future__ import annotations

from ansible_collections.redundant.kube.plugins.module_utils.kube.apply_set import (
    action_for,
    invalid_names,
    prune_candidates,
    restorable,
)


def test_action_for_ignores_server_bookkeeping():
    live = {
        "kind": "ConfigMap",
        "metadata": {"name": "a", "resourceVersion": "1", "managedFields": []},
        "data": {"x": "1"},
    }
    dry = {
        "kind": "ConfigMap",
        "metadata": {"name": "a", "resourceVersion": "2", "managedFields": [{}]},
        "data": {"x": "1"},
    }
    assert action_for(live, dry) == "unchanged"
    assert action_for(live, {**dry, "data": {"x": "2"}}) == "updated"
    assert action_for(None, dry) == "created"


def test_restorable_keeps_real_secret_data():
    live = {
        "kind": "Secret",
        "metadata": {"name": "s", "uid": "u", "resourceVersion": "3"},
        "data": {"k": "dmFsdWU="},
        "status": {},
    }
    restored = restorable(live)
    assert restored == {"kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dmFsdWU="}}


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
