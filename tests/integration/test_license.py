"""redundant.kube.license against the real control plane (kubelets simulated by kwok).

The restart order is read from the server in two ways: a watch on the namespace's pods (the API server
delivers changes in the order it committed them) and the creation/Ready timestamps of the ReplicaSets
and pods. A failing side is simulated with a ValidatingAdmissionPolicy that refuses pods carrying the
new license digest: the real ReplicaSet controller then cannot start them, as an application that does
not come up with a bad license would stay not Ready.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from ansible_run import REPO, run_module

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    checksum_annotation_key,
    content_digest,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import wait_for_ready

APP = "d2k"
# The label form of active_probe: an application that labels its active server itself.
HOT = "example.com/active"
KEY = checksum_annotation_key("ConfigMap", "d2k-license")
ADMISSION = "admissionregistration.k8s.io/v1"


def app_args(kubeconfig: str, namespace: str) -> dict[str, Any]:
    """A D2000-like pair: the license mounted by the server and one companion, not by the web companion."""
    return {
        "kubeconfig": kubeconfig,
        "name": APP,
        "namespace": namespace,
        "topology": "pair",
        "server": {"image": "registry.example/d2000/server:26.0.1"},
        "companions": [
            {"name": "clc", "image": "registry.example/d2000/clc:26.0.1"},
            {"name": "web", "image": "registry.example/d2000/web:26.0.1"},
        ],
        "license": {
            "config_map": "d2k-license",
            "mount_path": "/config/d2000/LicenceRun.code",
            "key": "LicenceRun.code",
            "workloads": ["server", "clc"],
        },
        "active_probe": {"type": "label", "key": HOT},
        "wait": True,
        "wait_timeout": 60,
    }


def push_args(kubeconfig: str, namespace: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "kubeconfig": kubeconfig,
        "name": "d2k-license",
        "namespace": namespace,
        "key": "LicenceRun.code",
        "content": content,
        "consumers": {"app": APP},
        "wait_timeout": 60,
        **extra,
    }


def ok(run) -> dict[str, Any]:
    assert not run.failed, run.result.get("msg")
    return run.result


def deploy_pair(kubeconfig: str, namespace: str) -> None:
    """License first, then the app (the site playbook's order)."""
    stored = ok(run_module("license", push_args(kubeconfig, namespace, "LIC-1")))
    assert stored["license"]["action"] == "created"
    assert stored["consumers"] == [] and stored["restarted"] == []
    assert (
        stored["msg"]
        == f"no workload of app {APP} uses ConfigMap {namespace}/d2k-license yet: nothing restarted"
    )
    ok(run_module("app", app_args(kubeconfig, namespace)))


def server_pod(resources: Resources, namespace: str, side: str) -> dict[str, Any]:
    pods = resources.list(
        "v1",
        "Pod",
        namespace,
        label_selector=f"app.kubernetes.io/component=server,redundant.kube/side={side}",
    )
    [live] = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return live


def make_active(resources: Resources, namespace: str, side: str) -> None:
    """What the application does when it picks its HOT server: label that server pod, unlabel the other."""
    for each in ("a", "b"):
        name = server_pod(resources, namespace, each)["metadata"]["name"]
        value = "true" if each == side else None
        resources.merge_patch("v1", "Pod", name, namespace, {"metadata": {"labels": {HOT: value}}})


def pod_uids(resources: Resources, namespace: str) -> dict[str, str]:
    """Deployment name -> uid of its live pod."""
    found = {}
    for p in resources.list("v1", "Pod", namespace):
        if not p["metadata"].get("deletionTimestamp"):
            labels = p["metadata"]["labels"]
            workload = f"{APP}-{labels['app.kubernetes.io/component']}-{labels['redundant.kube/side']}"
            found[workload] = p["metadata"]["uid"]
    return found


def is_ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions") or []
    )


class PodJournal:
    """Every change to the pods of a namespace, in the order the API server committed them: a watch that
    starts at the resourceVersion of a list, so nothing between start and stop is missed."""

    def __init__(self, resources: Resources, namespace: str) -> None:
        self.api = kubernetes.client.CoreV1Api(resources.api_client)
        self.namespace = namespace
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> PodJournal:
        self._version = self.api.list_namespaced_pod(self.namespace).metadata.resource_version
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)  # let the last committed changes arrive
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        while not self._stop.is_set():
            stream = kubernetes.watch.Watch().stream(
                self.api.list_namespaced_pod,
                self.namespace,
                resource_version=self._version,
                timeout_seconds=1,
                deserialize=False,
            )
            for event in stream:
                obj = event["object"]
                self._version = obj["metadata"]["resourceVersion"]
                self.events.append((event["type"], obj))

    def _first(self, uid: str, what) -> int:
        return next(
            i
            for i, (kind, obj) in enumerate(self.events)
            if obj["metadata"]["uid"] == uid and what(kind, obj)
        )

    def ready_at(self, uid: str) -> int:
        return self._first(uid, lambda kind, obj: kind != "DELETED" and is_ready(obj))

    def became_ready(self, uid: str) -> bool:
        return any(
            obj["metadata"]["uid"] == uid and kind != "DELETED" and is_ready(obj) for kind, obj in self.events
        )

    def leaving_at(self, uid: str) -> int:
        """When the pod was told to go (deletionTimestamp set, or gone)."""
        return self._first(
            uid, lambda kind, obj: kind == "DELETED" or obj["metadata"].get("deletionTimestamp")
        )

    def created(self, workload: str) -> list[dict[str, Any]]:
        """Pods of a workload (Deployment name) first seen during the journal."""
        component, side = workload.removeprefix(f"{APP}-").rsplit("-", 1)
        return [
            obj
            for kind, obj in self.events
            if kind == "ADDED"
            and obj["metadata"]["labels"].get("app.kubernetes.io/component") == component
            and obj["metadata"]["labels"].get("redundant.kube/side") == side
        ]

    def touched(self, uid: str) -> bool:
        return any(obj["metadata"]["uid"] == uid for _unused, obj in self.events)


def assert_one_at_a_time(journal: PodJournal, order: list[str], old_uids: dict[str, str]) -> None:
    """Each workload's old pod was asked to go only after the previous workload's new pod was Ready."""
    previous_ready = -1
    for workload in order:
        [new] = journal.created(workload)
        leaving = journal.leaving_at(old_uids[workload])
        assert leaving > previous_ready, f"{workload} was restarted before the previous workload was Ready"
        previous_ready = journal.ready_at(new["metadata"]["uid"])
        assert previous_ready > leaving


def newest_replica_set(resources: Resources, namespace: str, workload: str) -> dict[str, Any]:
    owned = [
        rs
        for rs in resources.list("apps/v1", "ReplicaSet", namespace)
        if any(o["name"] == workload for o in rs["metadata"].get("ownerReferences") or [])
    ]
    return max(owned, key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))


def assert_timestamps_in_order(resources: Resources, namespace: str, order: list[str]) -> None:
    """The server's own timestamps (seconds): each workload's new ReplicaSet was created no earlier than
    the previous workload's new pod became Ready."""
    ready_time = ""
    for workload in order:
        rs = newest_replica_set(resources, namespace, workload)
        assert rs["metadata"]["creationTimestamp"] >= ready_time
        pods = resources.list(
            "v1",
            "Pod",
            namespace,
            label_selector=f"pod-template-hash={rs['metadata']['labels']['pod-template-hash']}",
        )
        [pod] = pods
        ready_time = next(
            c["lastTransitionTime"] for c in pod["status"]["conditions"] if c["type"] == "Ready"
        )


def test_pair_push_restarts_consumers_passive_side_first_and_app_run_then_changes_nothing(
    kube_cluster, resources: Resources, namespace: str
):
    kubeconfig = kube_cluster.kubeconfig
    deploy_pair(kubeconfig, namespace)
    make_active(resources, namespace, "a")
    before = pod_uids(resources, namespace)

    with PodJournal(resources, namespace) as journal:
        result = ok(run_module("license", push_args(kubeconfig, namespace, "LIC-2")))

    order = [f"{APP}-server-b", f"{APP}-clc-b", f"{APP}-server-a", f"{APP}-clc-a"]
    assert result["changed"] and result["active_side"] == "a"
    assert [r["name"] for r in result["restarted"]] == order
    assert result["license"]["digest"] == content_digest({"data": {"LicenceRun.code": "LIC-2"}})
    assert_one_at_a_time(journal, order, before)
    assert_timestamps_in_order(resources, namespace, order)
    for untouched in (f"{APP}-web-a", f"{APP}-web-b"):  # the web companion does not mount the license
        assert not journal.touched(before[untouched])
    for workload in order:
        live = resources.get("apps/v1", "Deployment", workload, namespace)
        assert live["spec"]["template"]["metadata"]["annotations"][KEY] == result["license"]["digest"]

    after_push = pod_uids(resources, namespace)
    app_again = ok(run_module("app", app_args(kubeconfig, namespace)))
    assert app_again["changed"] is False
    assert pod_uids(resources, namespace) == after_push

    # The application switches its HOT server to B at run time: the next push starts with side A.
    make_active(resources, namespace, "b")
    with PodJournal(resources, namespace) as journal:
        result = ok(run_module("license", push_args(kubeconfig, namespace, "LIC-3")))
    order = [f"{APP}-server-a", f"{APP}-clc-a", f"{APP}-server-b", f"{APP}-clc-b"]
    assert result["active_side"] == "b"
    assert [r["name"] for r in result["restarted"]] == order
    assert_one_at_a_time(journal, order, after_push)
    assert_timestamps_in_order(resources, namespace, order)


def test_same_content_again_changes_and_restarts_nothing(kube_cluster, resources: Resources, namespace: str):
    kubeconfig = kube_cluster.kubeconfig
    deploy_pair(kubeconfig, namespace)
    make_active(resources, namespace, "a")
    ok(run_module("license", push_args(kubeconfig, namespace, "LIC-2")))
    uids = pod_uids(resources, namespace)
    config_map = resources.get("v1", "ConfigMap", "d2k-license", namespace)

    again = ok(run_module("license", push_args(kubeconfig, namespace, "LIC-2")))

    assert again["changed"] is False
    assert again["license"]["action"] == "unchanged"
    assert again["restart_plan"] == [] and again["restarted"] == []
    assert len(again["consumers"]) == 4
    assert pod_uids(resources, namespace) == uids
    live = resources.get("v1", "ConfigMap", "d2k-license", namespace)
    assert live["metadata"]["resourceVersion"] == config_map["metadata"]["resourceVersion"]


@pytest.fixture
def refuse_pods_with_digest(resources: Resources, namespace: str):
    """Make the API server refuse pods whose template carries a given license digest (cluster-scoped policy,
    bound to the test namespace only)."""
    made: list[str] = []

    def refuse(digest: str) -> None:
        name = f"refuse-license-{namespace}"[:63]
        annotations = "object.metadata.annotations"
        resources.apply(
            {
                "apiVersion": ADMISSION,
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": name},
                "spec": {
                    "failurePolicy": "Fail",
                    "matchConstraints": {
                        "resourceRules": [
                            {
                                "apiGroups": [""],
                                "apiVersions": ["v1"],
                                "operations": ["CREATE"],
                                "resources": ["pods"],
                            }
                        ]
                    },
                    "validations": [
                        {
                            "expression": f"!has({annotations}) || !('{KEY}' in {annotations}) "
                            f"|| {annotations}['{KEY}'] != '{digest}'",
                            "message": "simulated: the application does not start with this license",
                        }
                    ],
                },
            }
        )
        resources.apply(
            {
                "apiVersion": ADMISSION,
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": name},
                "spec": {
                    "policyName": name,
                    "validationActions": ["Deny"],
                    "matchResources": {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
                    },
                },
            }
        )
        made.append(name)
        probe = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "probe", "namespace": namespace, "annotations": {KEY: digest}},
            "spec": {"containers": [{"name": "c", "image": "registry.invalid/x:1"}]},
        }
        deadline = time.monotonic() + 30
        while True:  # the API server loads new policies asynchronously
            try:
                resources.create(probe, dry_run=True)
            except KubeError as exc:
                assert "simulated" in str(exc)
                return
            assert time.monotonic() < deadline, "the admission policy never took effect"
            time.sleep(0.2)

    yield refuse
    for name in made:
        resources.delete(ADMISSION, "ValidatingAdmissionPolicyBinding", name)
        resources.delete(ADMISSION, "ValidatingAdmissionPolicy", name)


def test_failure_on_passive_side_stops_and_leaves_active_side_untouched_admission_simulated(
    kube_cluster, resources: Resources, namespace: str, refuse_pods_with_digest
):
    kubeconfig = kube_cluster.kubeconfig
    deploy_pair(kubeconfig, namespace)
    make_active(resources, namespace, "a")
    before = pod_uids(resources, namespace)
    side_a = {
        w: resources.get("apps/v1", "Deployment", w, namespace) for w in (f"{APP}-server-a", f"{APP}-clc-a")
    }
    refuse_pods_with_digest(content_digest({"data": {"LicenceRun.code": "LIC-BAD"}}))

    with PodJournal(resources, namespace) as journal:
        run = run_module("license", push_args(kubeconfig, namespace, "LIC-BAD", wait_timeout=6))

    assert run.failed
    msg = run.result["msg"]
    assert "\n" not in msg and "Traceback" not in msg
    assert f"Deployment {APP}-server-b (side B) did not become Ready" in msg
    assert "simulated: the application does not start with this license" in msg  # the controller's reason
    assert run.result["failed_workload"] == {"kind": "Deployment", "name": f"{APP}-server-b", "side": "b"}
    assert run.result["not_restarted"] == [
        f"Deployment {APP}-clc-b (side B)",
        f"Deployment {APP}-server-a (side A)",
        f"Deployment {APP}-clc-a (side A)",
    ]
    for workload, was in side_a.items():  # side A: same spec, same pod, never touched
        now = resources.get("apps/v1", "Deployment", workload, namespace)
        assert now["metadata"]["generation"] == was["metadata"]["generation"]
        assert now["spec"]["template"] == was["spec"]["template"]
        assert not journal.touched(before[workload])
    assert not journal.touched(before[f"{APP}-clc-b"])
    assert resources.get("v1", "ConfigMap", "d2k-license", namespace)["data"] == {
        "LicenceRun.code": "LIC-BAD"
    }


def test_rollback_restores_previous_license_and_restarts_that_side_again_admission_simulated(
    kube_cluster, resources: Resources, namespace: str, refuse_pods_with_digest
):
    kubeconfig = kube_cluster.kubeconfig
    deploy_pair(kubeconfig, namespace)
    make_active(resources, namespace, "a")
    good = resources.get("apps/v1", "Deployment", f"{APP}-server-b", namespace)["spec"]["template"]
    server_a = server_pod(resources, namespace, "a")["metadata"]["uid"]
    refuse_pods_with_digest(content_digest({"data": {"LicenceRun.code": "LIC-BAD"}}))

    run = run_module("license", push_args(kubeconfig, namespace, "LIC-BAD", wait_timeout=6, rollback=True))

    assert run.failed
    assert run.result["rollback"].startswith("rolled back: previous license restored")
    assert run.result["msg"].endswith(run.result["rollback"])
    assert resources.get("v1", "ConfigMap", "d2k-license", namespace)["data"] == {"LicenceRun.code": "LIC-1"}
    side_b = resources.get("apps/v1", "Deployment", f"{APP}-server-b", namespace)
    assert side_b["spec"]["template"]["metadata"]["annotations"] == good["metadata"]["annotations"]
    assert side_b["status"]["readyReplicas"] == 1
    assert server_pod(resources, namespace, "a")["metadata"]["uid"] == server_a

    # Nothing is left half done: the app, run again, has nothing to change.
    assert ok(run_module("app", app_args(kubeconfig, namespace)))["changed"] is False


def ddb_cluster(namespace: str, replicas: int = 3) -> list[dict[str, Any]]:
    """What a Helm-installed operator makes (the DolphinDB cluster): a license ConfigMap with other keys, and a
    StatefulSet mounting it, neither created by this collection."""
    labels = {"app": "ddb-test1"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "ddb-test1",
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
            },
            "data": {"dolphindb.lic": "DDB-LIC-1", "cluster.cfg": "mode=cluster\n"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "ddb-test1-dn", "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": replicas,
                "serviceName": "ddb-test1-dn",
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "dolphindb",
                                "image": "dolphindb/dolphindb:v2.00.11",
                                "volumeMounts": [
                                    {
                                        "name": "license",
                                        "mountPath": "/data/ddb/server/dolphindb.lic",
                                        "subPath": "dolphindb.lic",
                                    }
                                ],
                            }
                        ],
                        "volumes": [{"name": "license", "configMap": {"name": "ddb-test1"}}],
                    },
                },
            },
        },
    ]


def ddb_args(kubeconfig: str, namespace: str, content: str, **extra: Any) -> dict[str, Any]:
    return push_args(
        kubeconfig,
        namespace,
        content,
        name="ddb-test1",
        key="dolphindb.lic",
        consumers={"selector": "app=ddb-test1"},
        **extra,
    )


def test_push_to_workloads_selected_by_labels_deletes_pods_one_at_a_time(
    kube_cluster, resources: Resources, namespace: str
):
    helm = Resources(resources.api_client, field_manager="helm")
    objects = [helm.apply(o) for o in ddb_cluster(namespace)]
    wait_for_ready(resources, objects, timeout=60)
    pods = {p["metadata"]["name"]: p["metadata"]["uid"] for p in resources.list("v1", "Pod", namespace)}
    generation = objects[1]["metadata"]["generation"]

    with PodJournal(resources, namespace) as journal:
        result = ok(
            run_module(
                "license",
                ddb_args(kube_cluster.kubeconfig, namespace, "DDB-LIC-2", restart_method="delete_pods"),
            )
        )

    assert result["restarted"] == [
        {"kind": "StatefulSet", "name": "ddb-test1-dn", "side": None, "method": "delete_pods"}
    ]
    live = resources.get("v1", "ConfigMap", "ddb-test1", namespace)
    assert live["data"] == {"dolphindb.lic": "DDB-LIC-2", "cluster.cfg": "mode=cluster\n"}  # Helm's key kept
    assert live["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "Helm"}
    sts = resources.get("apps/v1", "StatefulSet", "ddb-test1-dn", namespace)
    assert sts["metadata"]["generation"] == generation  # the operator's template was not edited
    # Highest ordinal first; each pod deleted only after the previous replacement was Ready.
    previous_ready = -1
    for name in ("ddb-test1-dn-2", "ddb-test1-dn-1", "ddb-test1-dn-0"):
        leaving = journal.leaving_at(pods[name])
        assert leaving > previous_ready
        # The StatefulSet controller may replace a pod it made from a stale cache once more: the replacement
        # is the first pod of that name to become Ready.
        replacements = [
            o["metadata"]["uid"] for k, o in journal.events if k == "ADDED" and o["metadata"]["name"] == name
        ]
        previous_ready = min(journal.ready_at(uid) for uid in replacements if journal.became_ready(uid))

    uids = {p["metadata"]["uid"] for p in resources.list("v1", "Pod", namespace)}
    again = ok(
        run_module(
            "license", ddb_args(kube_cluster.kubeconfig, namespace, "DDB-LIC-2", restart_method="delete_pods")
        )
    )
    assert again["changed"] is False and again["restarted"] == []
    assert {p["metadata"]["uid"] for p in resources.list("v1", "Pod", namespace)} == uids


def test_push_to_selected_statefulset_by_template_rolls_one_member_at_a_time(
    kube_cluster, resources: Resources, namespace: str
):
    objects = [Resources(resources.api_client, field_manager="helm").apply(o) for o in ddb_cluster(namespace)]
    wait_for_ready(resources, objects, timeout=60)

    with PodJournal(resources, namespace) as journal:
        result = ok(run_module("license", ddb_args(kube_cluster.kubeconfig, namespace, "DDB-LIC-2")))

    assert [r["name"] for r in result["restarted"]] == ["ddb-test1-dn"]
    sts = resources.get("apps/v1", "StatefulSet", "ddb-test1-dn", namespace)
    assert sts["spec"]["template"]["metadata"]["annotations"] == {
        checksum_annotation_key("ConfigMap", "ddb-test1"): result["license"]["digest"]
    }
    # Replay the journal: never more than one member missing or not Ready at a time.
    state: dict[str, bool] = {}
    worst = 0
    for kind, obj in journal.events:
        name = obj["metadata"]["name"]
        state[name] = kind != "DELETED" and is_ready(obj) and not obj["metadata"].get("deletionTimestamp")
        worst = max(worst, 3 - sum(state.get(f"ddb-test1-dn-{i}", True) for i in range(3)))
    assert worst == 1
    # Every member ends on the new revision. (Not "exactly three pods added": under load the StatefulSet
    # controller may create a member from a stale cache and replace it at once, which is its own doing.)
    latest = {obj["metadata"]["name"]: obj for kind, obj in journal.events if kind != "DELETED"}
    assert sorted(latest) == [f"ddb-test1-dn-{i}" for i in range(3)]
    sts = resources.get("apps/v1", "StatefulSet", "ddb-test1-dn", namespace)
    assert {o["metadata"]["labels"]["controller-revision-hash"] for o in latest.values()} == {
        sts["status"]["updateRevision"]
    }


def test_bad_input_changes_nothing(kube_cluster, resources: Resources, namespace: str, tmp_path: Path):
    kubeconfig = kube_cluster.kubeconfig
    ok(run_module("license", push_args(kubeconfig, namespace, "LIC-1", validate={"regex": "^LIC-"})))
    stored = resources.get("v1", "ConfigMap", "d2k-license", namespace)["metadata"]["resourceVersion"]

    cases = {
        "src: cannot read": {"src": str(tmp_path / "missing.code"), "content": None},
        "content is empty": {"content": ""},
        "validate.regex: the license does not match": {"content": "garbage", "validate": {"regex": "^LIC-"}},
        "validate: the license expired on 2020-01-31": {
            "content": "LIC-2\nvalid: 2020-01-31\n",
            "validate": {"expiry_regex": "valid: (\\S+)"},
        },
        "validate.max_size: the license has 6 bytes": {"content": "LIC-22", "validate": {"max_size": 5}},
        "key 'a/b' is not a valid ConfigMap key": {"key": "a/b", "content": "LIC-2"},
    }
    for expected, change in cases.items():
        args = {
            k: v for k, v in {**push_args(kubeconfig, namespace, "LIC-2"), **change}.items() if v is not None
        }
        run = run_module("license", args)
        assert run.failed and expected in run.result["msg"], run.result
        assert "\n" not in run.result["msg"]
    assert resources.get("v1", "ConfigMap", "d2k-license", namespace)["metadata"]["resourceVersion"] == stored

    required = run_module(
        "license", {**push_args(kubeconfig, namespace, "LIC-1"), "name": "other", "require_consumers": True}
    )
    assert required.failed
    assert required.result["msg"].startswith(
        f"consumers: no workload of app {APP} in namespace {namespace} uses"
    )
    assert resources.get("v1", "ConfigMap", "other", namespace) is None


def test_check_mode_and_diff_show_digests_only(kube_cluster, resources: Resources, namespace: str):
    kubeconfig = kube_cluster.kubeconfig
    deploy_pair(kubeconfig, namespace)
    make_active(resources, namespace, "b")
    uids = pod_uids(resources, namespace)

    check = run_module("license", push_args(kubeconfig, namespace, "LIC-SECRET-2"), check=True, diff=True)

    result = ok(check)
    assert result["changed"] is True
    assert [r["name"] for r in result["restart_plan"]] == [
        f"{APP}-server-a",
        f"{APP}-clc-a",
        f"{APP}-server-b",
        f"{APP}-clc-b",
    ]
    assert result["restarted"] == []
    assert resources.get("v1", "ConfigMap", "d2k-license", namespace)["data"] == {"LicenceRun.code": "LIC-1"}
    assert pod_uids(resources, namespace) == uids
    assert result["diff"]["before"]["digest"] == content_digest({"data": {"LicenceRun.code": "LIC-1"}})
    assert result["diff"]["after"]["digest"] == content_digest({"data": {"LicenceRun.code": "LIC-SECRET-2"}})
    assert "LIC-SECRET-2" not in check.stdout + check.stderr

    secret = {**push_args(kubeconfig, namespace, "TOP-SECRET-LICENSE"), "kind": "Secret", "name": "d2k-key"}
    run = run_module("license", secret, diff=True)
    result = ok(run)
    assert result["diff"]["after"]["sha256"]
    assert result["consumers"] == []  # the app mounts the ConfigMap, not this Secret
    assert result["invocation"]["module_args"]["content"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    encoded = base64.b64encode(b"TOP-SECRET-LICENSE").decode()
    for leak in ("TOP-SECRET-LICENSE", encoded):
        assert leak not in run.stdout + run.stderr
    assert resources.get("v1", "Secret", "d2k-key", namespace)["data"] == {"LicenceRun.code": encoded}


def run_playbook(kubeconfig: str, extra_vars: dict[str, Any]) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_NOCOLOR="1",
    )
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        str(REPO / "playbooks/license.yml"),
        "-e",
        json.dumps({"rk_kubeconfig": kubeconfig, **extra_vars}),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)


def test_playbook_pushes_from_extra_vars_and_lists_missing_ones(
    kube_cluster, resources: Resources, namespace: str, tmp_path: Path
):
    kubeconfig = kube_cluster.kubeconfig
    deploy_pair(kubeconfig, namespace)
    make_active(resources, namespace, "a")
    license_file = tmp_path / "LicenceRun.code"
    license_file.write_text("LIC-FROM-FILE\n")

    missing = run_playbook(kubeconfig, {"rk_license_namespace": namespace})
    assert missing.returncode != 0
    assert (
        "missing variables: rk_license_name, rk_license_key, rk_license_app or rk_license_selector, "
        "rk_license_src or rk_license_content or rk_license_b64_content" in missing.stdout
    )
    assert resources.get("v1", "ConfigMap", "d2k-license", namespace)["data"] == {"LicenceRun.code": "LIC-1"}

    done = run_playbook(
        kubeconfig,
        {
            "rk_license_name": "d2k-license",
            "rk_license_namespace": namespace,
            "rk_license_key": "LicenceRun.code",
            "rk_license_src": str(license_file),
            "rk_license_app": APP,
            "rk_license_wait_timeout": 60,
        },
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert resources.get("v1", "ConfigMap", "d2k-license", namespace)["data"] == {
        "LicenceRun.code": "LIC-FROM-FILE\n"
    }
    assert "restarted: d2k-server-b, d2k-clc-b, d2k-server-a, d2k-clc-a" in done.stdout


def test_active_side_is_settled_before_anything_is_written(
    kube_cluster, resources: Resources, namespace: str
):
    kubeconfig = kube_cluster.kubeconfig
    deploy_pair(kubeconfig, namespace)
    for side in ("a", "b"):  # split brain: both servers say they are HOT
        name = server_pod(resources, namespace, side)["metadata"]["name"]
        resources.merge_patch("v1", "Pod", name, namespace, {"metadata": {"labels": {HOT: "true"}}})
    uids = pod_uids(resources, namespace)

    both = run_module("license", push_args(kubeconfig, namespace, "LIC-2"))

    assert both.failed
    assert both.result["msg"].startswith("order: passive_first: both sides are active")
    assert resources.get("v1", "ConfigMap", "d2k-license", namespace)["data"] == {"LicenceRun.code": "LIC-1"}
    assert pod_uids(resources, namespace) == uids

    for side in ("a", "b"):
        name = server_pod(resources, namespace, side)["metadata"]["name"]
        resources.merge_patch("v1", "Pod", name, namespace, {"metadata": {"labels": {HOT: None}}})
    none = ok(run_module("license", push_args(kubeconfig, namespace, "LIC-2")))
    assert none["active_side"] is None
    assert any("no side is active" in w for w in none["warnings"])
    assert [r["side"] for r in none["restarted"]] == ["a", "a", "b", "b"]


def test_side_not_ready_blocks_restart_of_the_other_side_simulated_kubelet(
    kube_cluster, resources: Resources, namespace: str
):
    kubeconfig = kube_cluster.kubeconfig
    deploy_pair(kubeconfig, namespace)
    # The kubelet of side A reports its server not Ready (kwok leaves a Running pod's status alone).
    pod = server_pod(resources, namespace, "a")
    path = f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}/status"
    conditions = [
        {**c, "status": "False"} if c["type"] in ("Ready", "ContainersReady") else c
        for c in pod["status"]["conditions"]
    ]
    resources.request(
        "PATCH",
        path,
        body={"status": {"conditions": conditions}},
        content_type="application/merge-patch+json",
    )
    deadline = time.monotonic() + 30
    while resources.get("apps/v1", "Deployment", f"{APP}-server-a", namespace)["status"].get("readyReplicas"):
        assert time.monotonic() < deadline, "the Deployment never saw its pod not Ready"
        time.sleep(0.2)
    uids = pod_uids(resources, namespace)

    run = run_module("license", push_args(kubeconfig, namespace, "LIC-2", order="b_first", wait_timeout=3))

    assert run.failed
    msg = run.result["msg"]
    assert msg.startswith(f"ConfigMap {namespace}/d2k-license updated, then stopped before side B")
    assert f"Deployment {namespace}/{APP}-server-a: 0/1 ready" in msg
    assert pod_uids(resources, namespace) == uids  # nothing restarted
    assert run.result["restarted"] == []
