"""The storage role against the local control plane: provisioners from a user's manifest and a user's
chart (stand-ins written by the fixtures below, shaped like upstream's local-path-provisioner manifest
and nfs-subdir-external-provisioner chart, NOT those), their workloads waited for (kubelets simulated by
kwok, so "ready" is kwok's and no image is pulled), and the StorageClasses the example systems need. The API
server, helm and the role's ansible-playbook run are real."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from playbook_run import PlaybookRun, run_playbook

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "cluster"))
from local_cluster import binaries  # noqa: E402


@pytest.fixture(scope="module")
def cluster(make_cluster):
    # Two schedulable nodes: a Longhorn class gets two replicas. A cluster of its own, since the role
    # moves the default-class mark.
    return make_cluster(nodes=2)


def play(tmp_path: Path, cluster, **role_vars) -> PlaybookRun:
    """Run the role in a playbook on the controller."""
    book = tmp_path / "storage.yml"
    role_vars = {
        "storage_kubeconfig": cluster.kubeconfig,
        "storage_helm_binary": str(binaries() / "helm"),
        **role_vars,
    }
    book.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Storage",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "roles": [{"role": "redundant.kube.storage", "vars": role_vars}],
                }
            ]
        )
    )
    helm_dirs = {
        f"HELM_{kind}_HOME": str(tmp_path / f"helm-{kind.lower()}") for kind in ("CACHE", "CONFIG", "DATA")
    }
    return run_playbook(book, "localhost,", env={"ANSIBLE_TRANSPORT": "local", **helm_dirs})


def failures(run: PlaybookRun) -> list[str]:
    return list(run.failed_messages().values())


def deployment(name: str, namespace: str, image: str, env: dict[str, str] | None = None) -> dict:
    labels = {"app": name}
    container = {
        "name": name,
        "image": image,
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, str]:
    """A user's multi-document provisioner manifest and a user's chart directory (stand-ins)."""
    root = tmp_path_factory.mktemp("storage-sources")
    manifest = root / "local-path-standin.yaml"
    manifest.write_text(
        yaml.safe_dump_all(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "local-path-storage"}},
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "local-path-config", "namespace": "local-path-storage"},
                    "data": {
                        "config.json": '{"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["/opt/local-path"]}]}'
                    },
                },
                deployment(
                    "local-path-provisioner",
                    "local-path-storage",
                    "registry.invalid/local-path-provisioner:standin",
                ),
            ]
        )
    )
    chart = root / "nfs-provisioner-standin"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": "nfs-provisioner-standin", "version": "0.1.0"})
    )
    (chart / "values.yaml").write_text(yaml.safe_dump({"nfs": {"server": "", "path": "/srv/nfs/kubernetes"}}))
    template = deployment(
        "@RELEASE@",
        "@NAMESPACE@",
        "registry.invalid/nfs-subdir-external-provisioner:standin",
        {
            "PROVISIONER_NAME": "k8s-sigs.io/nfs-subdir-external-provisioner",
            "NFS_SERVER": "@SERVER@",
            "NFS_PATH": "@PATH@",
        },
    )
    (chart / "templates" / "deployment.yaml").write_text(
        yaml.safe_dump(template)
        .replace("'@RELEASE@'", "{{ .Release.Name }}")
        .replace("'@NAMESPACE@'", "{{ .Release.Namespace }}")
        .replace("'@SERVER@'", '{{ required "nfs.server is required" .Values.nfs.server | quote }}')
        .replace("'@PATH@'", "{{ .Values.nfs.path | quote }}")
    )
    return {"manifest": str(manifest), "chart": str(chart)}


def example_systems_storage(sources: dict[str, str]) -> dict:
    return {
        "storage_provisioners": [
            {"name": "local-path", "manifests": [sources["manifest"]]},
            {
                "name": "nfs-provisioner",
                "chart": sources["chart"],
                "namespace": "nfs-provisioner",
                "values": {"nfs": {"server": "10.0.0.10", "path": "/srv/nfs/kubernetes"}},
            },
        ],
        "storage_classes": [
            {"name": "rk-local-path", "type": "local-path"},
            {"name": "rk-nfs-client", "type": "nfs"},
            {"name": "rk-longhorn", "type": "longhorn"},
        ],
        "storage_default_class": "rk-longhorn",
    }


def get(cluster, *args: str) -> dict:
    return json.loads(cluster.kubectl_run(*args, "-o", "json").stdout)


def test_storage_role_installs_provisioners_and_classes_simulated_kubelet(tmp_path, cluster, sources):
    first = play(tmp_path, cluster, **example_systems_storage(sources))
    assert first.rc == 0, first.explain()

    local_path = get(
        cluster,
        "-n",
        "local-path-storage",
        "get",
        "deployment",
        "local-path-provisioner",
        "--show-managed-fields",
    )
    assert local_path["status"]["readyReplicas"] == 1
    assert any(f["manager"] == "redundant.kube" for f in local_path["metadata"]["managedFields"])
    nfs = get(cluster, "-n", "nfs-provisioner", "get", "deployment", "nfs-provisioner")
    env = {e["name"]: e["value"] for e in nfs["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NFS_SERVER"] == "10.0.0.10" and nfs["status"]["readyReplicas"] == 1

    classes = {c["metadata"]["name"]: c for c in get(cluster, "get", "storageclass")["items"]}
    longhorn = classes["rk-longhorn"]
    assert longhorn["provisioner"] == "driver.longhorn.io"
    assert longhorn["parameters"] == {"numberOfReplicas": "2", "staleReplicaTimeout": "30", "fsType": "ext4"}
    assert classes["rk-nfs-client"]["parameters"] == {"archiveOnDelete": "true"}
    assert classes["rk-local-path"]["volumeBindingMode"] == "WaitForFirstConsumer"
    defaults = [
        n
        for n, c in classes.items()
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"
    ]
    assert defaults == ["rk-longhorn"]  # "standard" lost the mark

    again = play(tmp_path, cluster, **example_systems_storage(sources))
    assert again.rc == 0, again.explain()
    changed = [
        t["task"]["name"]
        for p in again.output["plays"]
        for t in p["tasks"]
        if t["hosts"]["localhost"].get("changed")
    ]
    assert again.stats["changed"] == 0, changed


def test_more_replicas_than_nodes_fails_before_applying_anything(tmp_path, cluster):
    run = play(
        tmp_path,
        cluster,
        storage_classes=[{"name": "rk-longhorn-3", "type": "longhorn"}],
        storage_longhorn_replicas=3,
    )
    assert run.rc != 0
    assert failures(run) == [
        "storage_longhorn_replicas is 3 but there are 2 storage nodes: each replica needs its own node, so use 1 to 2 "
        "(a replica that cannot be placed leaves every volume degraded)"
    ]
    assert cluster.kubectl_run("get", "storageclass", "rk-longhorn-3", check=False).returncode != 0


def test_changing_an_existing_class_parameters_is_refused_naming_it(tmp_path, cluster):
    cluster.kubectl_run(
        "apply",
        "-f",
        "-",
        stdin=yaml.safe_dump(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": "rk-nfs-old"},
                "provisioner": "k8s-sigs.io/nfs-subdir-external-provisioner",
                "parameters": {"archiveOnDelete": "false"},
            }
        ),
    )
    run = play(tmp_path, cluster, storage_classes=[{"name": "rk-nfs-old", "type": "nfs"}])
    assert run.rc != 0
    [message] = failures(run)
    assert message.startswith(
        "storage_classes[rk-nfs-old]: the class exists with provisioner k8s-sigs.io/nfs-subdir-external-provisioner"
    )
    assert "StorageClass parameters cannot change" in message
