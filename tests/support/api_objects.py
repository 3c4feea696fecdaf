"""Pods, workloads and manifests shaped as the API server returns them, for the app capability's unit tests."""

from __future__ import annotations

from ansible_collections.redundant.kube.plugins.module_utils.app.render import render_app
from ansible_collections.redundant.kube.plugins.module_utils.app.spec import (
    spec_from_user_params,
)
from support.app_cases import EXTERNAL_DIGESTS, load_case


def pod(name, component, kind, side, node, ready=True, **labels):
    meta_labels = {
        "app.kubernetes.io/instance": "d2000",
        "app.kubernetes.io/component": component,
        "redundant.kube/workload-kind": kind,
        **({"redundant.kube/side": side} if side else {}),
        **labels,
    }
    return {
        "metadata": {"name": name, "labels": meta_labels},
        "spec": {"nodeName": node},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pair_pods(node_a="n1", node_b="n2", clc_a="n1"):
    return [
        pod("server-a", "server", "server", "a", node_a),
        pod("server-b", "server", "server", "b", node_b),
        pod("clc-a", "clc", "companion", "a", clc_a),
        pod("clc-b", "clc", "companion", "b", node_b),
    ]


def workload(name, component, kind, side, replicas=1, ready=1, topology="pair"):
    return {
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/component": component,
                "redundant.kube/workload-kind": kind,
                **({"redundant.kube/side": side} if side else {}),
            },
            "annotations": {
                "redundant.kube/topology": topology,
                "redundant.kube/topology-key": "kubernetes.io/hostname",
            },
        },
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": ready},
    }


PAIR_WORKLOADS = [
    workload("d2000-server-a", "server", "server", "a"),
    workload("d2000-server-b", "server", "server", "b"),
    workload("d2000-clc-a", "clc", "companion", "a"),
    workload("d2000-clc-b", "clc", "companion", "b"),
]


NODES = {n: {"labels": {"kubernetes.io/hostname": n}, "ready": True} for n in ("n1", "n2", "n3")}


BOUND = [{"metadata": {"name": "d2000-log-a"}, "status": {"phase": "Bound"}}]


PDB = [{"metadata": {"name": "d2000-server"}}]


def iris_manifests(size="10Gi"):
    params = load_case("iris_single")
    params["volumes"][0]["size"] = size
    return render_app(spec_from_user_params(params), EXTERNAL_DIGESTS)


def live_claim(size):
    return {"metadata": {"name": "iris-sys"}, "spec": {"resources": {"requests": {"storage": size}}}}
