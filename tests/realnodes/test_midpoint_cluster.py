"""The midpoint_cluster example inventory on running containers, with the midPoint-like members
(`localhost/redundant-kube-test/midpoint`, tests/realnodes/apps/midpoint: NOT Evolveum midPoint, a shell script and
a small Java program that behave like it where the collection relies on it) and Debian's PostgreSQL server as its
repository (`localhost/redundant-kube-test/postgres`). The example is changed only by EXTRA_VARS: the images, this
cluster's storage class, the namespace, the kubeconfig, and rk_apps without the NFS server and the members' NFS
volume (this kernel has no NFS server; the VM tier mounts NFS).

Realnodes tier only: tests/realnodes is not in pytest's testpaths, `make test-realnodes` runs it on the
real-node cluster (tests/realnodes/conftest.py)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import DeployedExample, RealNodes, figure
from playbook_run import PlaybookRun, run_playbook
from support.keystore_helpers import make_certificate, pem
from test_cluster import client_pod

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "inventories/midpoint_cluster/group_vars/all/midpoint_cluster.yml"
)
DEPLOY = ["keystore.yml", "app.yml"]
MEMBERS = "app.kubernetes.io/instance=midpoint"
DATABASE = "app.kubernetes.io/instance=mp-demo-db"
REQUESTS = 20


def without_nfs(apps: list[dict]) -> list[dict]:
    """The example's rk_apps without what needs an NFS server: the NFS server app and the members' volume on
    its export. Exactly those two go; everything else is the example's own."""
    kept = [app for app in apps if app["name"] != "mp-demo-nfs"]
    dropped = []
    for app in kept:
        dropped += [volume["name"] for volume in app.get("volumes", []) if "nfs" in volume]
        app["volumes"] = [volume for volume in app.get("volumes", []) if "nfs" not in volume]
    assert (len(apps) - len(kept), dropped) == (1, ["poi"]), "the example's NFS parts changed: update this"
    return kept


def extra_vars(realnodes: RealNodes, namespace: str) -> dict:
    """What points the example at this cluster, and nothing else."""
    example = yaml.safe_load(EXAMPLE.read_text())
    return {
        "rk_kubeconfig": str(realnodes.cluster.kubeconfig),
        "midpoint_namespace": namespace,
        "midpoint_image": realnodes.images["test-midpoint"],
        "midpoint_db_image": realnodes.images["test-postgres"],
        "midpoint_storage_class": "local-path",  # the cluster's provisioner (replicated storage: the VM tier)
        "rk_apps": without_nfs(example["rk_apps"]),
    }


def run(variables: dict) -> PlaybookRun:
    return run_playbook(DEPLOY, "midpoint_cluster", extra_vars=variables)


@pytest.fixture(scope="module")
def midpoint(realnodes: RealNodes) -> Iterator[DeployedExample]:
    namespace = f"rn-mp-{uuid.uuid4().hex[:6]}"
    variables = extra_vars(realnodes, namespace)
    try:
        yield DeployedExample(namespace, variables, run(variables))
    finally:
        realnodes.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def container_ids(realnodes: RealNodes, namespace: str) -> dict[str, str]:
    return {
        pod["metadata"]["name"]: status["containerID"]
        for selector in (MEMBERS, DATABASE)
        for pod in realnodes.live_pods(namespace, selector)
        for status in pod["status"]["containerStatuses"]
    }


def page(realnodes: RealNodes, namespace: str, pod: str) -> dict | None:
    """The member's own page, asked inside its container; None when it does not answer."""
    answer = realnodes.kubectl(
        "exec", "-n", namespace, pod, "-c", "midpoint", "--",
        "curl", "-sf", "http://127.0.0.1:8080/midpoint/", check=False,
    )  # fmt: skip
    return json.loads(answer) if answer else None


def database_sql(realnodes: RealNodes, namespace: str, sql: str) -> str:
    (db,) = realnodes.live_pods(namespace, DATABASE)
    return realnodes.kubectl(
        "exec", "-n", namespace, db["metadata"]["name"], "--",
        "psql", "-U", "midpoint", "-d", "midpoint", "-tAc", sql,
    ).strip()  # fmt: skip


def test_midpoint_members_open_the_keystore_after_their_init_container_and_a_rerun_restarts_nothing(
    realnodes: RealNodes, midpoint
):
    assert midpoint.first.rc == 0, midpoint.first.explain()
    members = realnodes.live_pods(midpoint.namespace, MEMBERS)
    assert len(members) == 3
    assert len({m["spec"]["nodeName"] for m in members}) == 3, [m["spec"]["nodeName"] for m in members]
    (db,) = realnodes.live_pods(midpoint.namespace, DATABASE)
    for pod in [*members, db]:
        (status,) = pod["status"]["containerStatuses"]
        assert pod["status"]["phase"] == "Running" and status["ready"] and "running" in status["state"], pod
    claim = realnodes.get("pvc", "-n", midpoint.namespace, "-l", DATABASE)["items"]
    assert [(c["status"]["phase"], c["spec"]["storageClassName"]) for c in claim] == [("Bound", "local-path")]

    # The repository's schema, made by the init containers, as the database itself holds it.
    assert database_sql(realnodes, midpoint.namespace, "SELECT value FROM m_global_metadata") == "4.4"
    keystore = realnodes.get("secret", "mp-demo-keystore", "-n", midpoint.namespace)
    certificates = []
    for member in members:
        name = member["metadata"]["name"]
        (init,) = member["status"]["initContainerStatuses"]
        (status,) = member["status"]["containerStatuses"]
        assert init["name"] == "mp-config-init" and init["state"]["terminated"]["exitCode"] == 0, init
        assert init["state"]["terminated"]["finishedAt"] <= status["state"]["running"]["startedAt"]
        init_log = realnodes.kubectl("logs", "-n", midpoint.namespace, name, "-c", "mp-config-init")
        assert "init-native: home /opt/mp-home initialised" in init_log
        assert "repository schema 4.4 present" in init_log
        log = realnodes.kubectl("logs", "-n", midpoint.namespace, name, "-c", "midpoint")
        assert f"midpoint-like: node id {name} (from the host name)" in log
        assert "repository schema 4.4 found" in log

        # The member's JVM opened the Secret's JCEKS keystore: the secret key and the example's extra CA.
        shown = page(realnodes, midpoint.namespace, name)
        assert shown and shown["nodeId"] == name, shown
        opened = shown["keystore"]
        assert (opened["type"], opened["path"]) == ("JCEKS", "/opt/midpoint/mount-keystore/keystore.jceks")
        assert {k: opened["secretKey"][k] for k in ("alias", "algorithm", "bits")} == {
            "alias": "default",
            "algorithm": "AES",
            "bits": 128,
        }
        assert [(c["alias"], c["subject"]) for c in opened["trustedCertificates"]] == [
            ("extra-ca", "CN=redundant.kube example CA")
        ]
        certificates.append(opened)
    assert len({c["secretKey"]["digest"] for c in certificates}) == 1  # one key, shared by every member
    assert set(keystore["data"]) == {"keystore.jceks", "keystore"}

    # The database password: a file for both sides, in no pod's spec.
    password = yaml.safe_load(EXAMPLE.read_text())["midpoint_db_password"]
    in_secret = realnodes.get("secret", "mp-demo-db", "-n", midpoint.namespace)["data"]["password"]
    assert base64.b64decode(in_secret) == password.encode()
    for pod in realnodes.get("pods", "-n", midpoint.namespace)["items"]:
        assert password not in json.dumps(pod["spec"]), pod["metadata"]["name"]

    before = container_ids(realnodes, midpoint.namespace)
    again = run(midpoint.extra_vars)
    assert again.rc == 0, again.explain()
    assert again.stats.get("changed") == 0, again.explain()
    assert container_ids(realnodes, midpoint.namespace) == before
    figure(f"midpoint cluster: first run {midpoint.first.seconds:.0f} s, second run {again.seconds:.0f} s")


def node_ids_seen(realnodes: RealNodes, namespace: str, client: str, service: str) -> list[str]:
    """The node id that answered each of REQUESTS requests from the client pod through the Service."""
    loop = f"for i in $(seq {REQUESTS}); do curl -sf --max-time 5 http://{service}:8080/midpoint/; done"
    answers = realnodes.kubectl("exec", "-n", namespace, client, "--", "bash", "-c", loop)
    return [json.loads(line)["nodeId"] for line in answers.splitlines()]


def test_one_client_stays_on_one_member_through_the_service_and_a_plain_service_spreads(
    realnodes: RealNodes, midpoint
):
    assert midpoint.first.rc == 0, midpoint.first.explain()
    service = realnodes.get("service", "midpoint", "-n", midpoint.namespace)
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    plain = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "midpoint-plain", "namespace": midpoint.namespace},
        "spec": {"selector": service["spec"]["selector"], "ports": [{"name": "gui", "port": 8080}]},
    }
    client = client_pod("client", realnodes.nodes[0], realnodes.images["userland"])
    client["metadata"]["namespace"] = midpoint.namespace
    realnodes.apply(plain, client)
    realnodes.wait(
        "the client pod running",
        lambda: realnodes.get("pod", "client", "-n", midpoint.namespace)["status"].get("phase") == "Running",
    )
    members = {m["metadata"]["name"] for m in realnodes.live_pods(midpoint.namespace, MEMBERS)}
    sticky = node_ids_seen(realnodes, midpoint.namespace, "client", "midpoint")
    assert len(sticky) == REQUESTS and len(set(sticky)) == 1 and set(sticky) <= members, sticky
    spread = node_ids_seen(realnodes, midpoint.namespace, "client", "midpoint-plain")
    assert len(spread) == REQUESTS and len(set(spread)) > 1 and set(spread) <= members, spread


def test_a_member_given_the_keystore_with_a_wrong_store_password_refuses_to_start(
    realnodes: RealNodes, midpoint
):
    """The members' own pod template, with the keystore Secret swapped for a copy whose password file is wrong:
    the JVM cannot open the store, the member exits 1 and says why."""
    assert midpoint.first.rc == 0, midpoint.first.explain()
    namespace = midpoint.namespace
    keystore = realnodes.get("secret", "mp-demo-keystore", "-n", namespace)
    wrong = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "wrong-keystore", "namespace": namespace},
        "data": {**keystore["data"], "keystore": base64.b64encode(b"not-the-store-password").decode()},
    }
    template = realnodes.get("statefulset", "-n", namespace, "-l", MEMBERS)["items"][0]["spec"]["template"]
    spec = template["spec"]
    for volume in spec["volumes"]:
        if volume.get("secret", {}).get("secretName") == "mp-demo-keystore":
            volume["secret"]["secretName"] = "wrong-keystore"
    refused = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "wrong-keystore-member", "namespace": namespace},
        "spec": {**spec, "restartPolicy": "Never", "topologySpreadConstraints": []},
    }
    realnodes.apply(wrong, refused)
    terminated = realnodes.wait(
        "the member with the wrong keystore password to exit",
        lambda: next(
            (
                s["state"].get("terminated")
                for s in realnodes.get("pod", refused["metadata"]["name"], "-n", namespace)["status"].get(
                    "containerStatuses", []
                )
            ),
            None,
        ),
    )
    assert terminated["exitCode"] == 1, terminated
    log = realnodes.kubectl("logs", "-n", namespace, refused["metadata"]["name"], "-c", "midpoint")
    assert "refusing to start: cannot open the keystore" in log
    assert "Keystore was tampered with, or password was incorrect" in log


def member_pages(realnodes: RealNodes, namespace: str, count: int) -> dict[str, dict] | None:
    """Each member's page once exactly `count` members run, all Ready; None until then."""
    members = realnodes.live_pods(namespace, MEMBERS)
    ready = [
        m for m in members if all(s["ready"] for s in m["status"].get("containerStatuses", [{"ready": 0}]))
    ]
    if len(members) != count or len(ready) != count:
        return None
    pages = {m["metadata"]["name"]: page(realnodes, namespace, m["metadata"]["name"]) for m in members}
    return pages if all(pages.values()) else None  # not while a member stops or starts in a rollout


def test_a_ca_added_to_the_keystore_reaches_the_members_with_the_same_key_while_scaling_to_2_and_back_to_3(
    realnodes: RealNodes, midpoint
):
    """keystore.yml with a second CA in the example's keystore, app.yml with 2 members: the members restart
    (the Secret's checksum is in their template) and open the keystore again, the key as it was; then 3 again."""
    assert midpoint.first.rc == 0, midpoint.first.explain()
    namespace = midpoint.namespace
    (before,) = {p["keystore"]["secretKey"]["digest"] for p in member_pages(realnodes, namespace, 3).values()}
    keystores = yaml.safe_load(EXAMPLE.read_text())["rk_keystores"]
    keystores[0]["entries"].append(
        {"alias": "second-ca", "certificate": pem(make_certificate("second CA")[0])}
    )
    added = {**midpoint.extra_vars, "rk_keystores": keystores}

    for replicas in (2, 3):
        deploy = run({**added, "midpoint_replicas": replicas})
        assert deploy.rc == 0, deploy.explain()
        pages = realnodes.wait(
            f"{replicas} members Ready, each started with the second CA",
            lambda count=replicas: (
                (found := member_pages(realnodes, namespace, count))
                and all(len(p["keystore"]["trustedCertificates"]) == 2 for p in found.values())
                and found
            ),
        )
        assert sorted(pages) == [f"midpoint-midpoint-{i}" for i in range(replicas)]
        for name, shown in pages.items():
            assert shown["nodeId"] == name
            assert shown["keystore"]["secretKey"]["digest"] == before, name  # the key was kept, byte for byte
            assert [c["alias"] for c in shown["keystore"]["trustedCertificates"]] == ["extra-ca", "second-ca"]
        figure(
            f"midpoint cluster: keystore with a second CA and {replicas} members in {deploy.seconds:.0f} s"
        )
