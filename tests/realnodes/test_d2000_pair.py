"""The d2000_pair example inventory on running containers, with the D2000-like pair
(`localhost/redundant-kube-test/d2000/<process>`, tests/realnodes/apps/d2000: NOT Ipesoft D2000, a small program
that behaves like it where the collection relies on it). The example is changed only by EXTRA_VARS: the
images' registry and version, this cluster's storage class, the namespace and the kubeconfig.

What the servers report is read from inside their containers (`d2000-like state server`); which side is HOT
only through `redundant.kube.app_info` (the example's exec active_probe).

Realnodes tier only: tests/realnodes is not in pytest's testpaths, `make test-realnodes` runs it on the
real-node cluster (tests/realnodes/conftest.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from ansible_run import run_module
from conftest import DeployedExample, RealNodes
from playbook_run import PlaybookRun, run_playbook

COMPANIONS = ("clc", "evh", "eds", "kom", "web")
OTHER = {"a": "b", "b": "a"}
DEPLOY = ["keystore.yml", "license.yml", "app.yml"]


# The database's port as the example allows it (5432), and another the same host listens on.
DB_PORTS = (5432, 5433)


def extra_vars(realnodes: RealNodes, namespace: str, db_host: str) -> dict:
    """What points the example at this cluster, and nothing else."""
    registry, version = realnodes.images["test-d2000/server"].rsplit(":", 1)
    return {
        "rk_kubeconfig": str(realnodes.cluster.kubeconfig),
        "d2000_namespace": namespace,
        "d2000_db_host": db_host,
        "d2000_registry": registry.removesuffix("/server"),
        "d2000_version": version,
        "d2000_storage_class": "local-path",  # the cluster's provisioner (replicated storage: the VM tier)
        # The node containers have no serial port (podman gives a systemd container no /dev/ttyS*): kubelet
        # would refuse the example's /dev/ttyS0 hostPath (not a character device), and the pods never start.
        "d2000_serial_devices": [],
    }


def run(playbooks: list[str], variables: dict) -> PlaybookRun:
    return run_playbook(playbooks, "d2000_pair", extra_vars=variables)


def database_stand_in(realnodes: RealNodes, namespace: str) -> str:
    """A pod listening on DB_PORTS where the example's external PostgreSQL would be (no PostgreSQL server in the
    userland image yet: the egress policy is about ports, not the protocol); its IP."""
    realnodes.kubectl("create", "namespace", namespace)
    listeners = " & ".join(f"nc -lk {port}" for port in DB_PORTS)
    realnodes.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "database", "namespace": namespace},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "listener",
                        "image": realnodes.images["userland"],
                        "imagePullPolicy": "Never",
                        "command": ["bash", "-c", f"{listeners} & wait"],
                    }
                ],
            },
        }
    )
    return realnodes.wait(
        "the database stand-in running",
        lambda: (
            (pod := realnodes.get("pod", "database", "-n", namespace))["status"].get("phase") == "Running"
            and pod["status"].get("podIP")
        ),
    )


def connects(realnodes: RealNodes, namespace: str, pod: str, host: str, port: int) -> bool:
    """Whether a TCP connection from the pod's container to host:port opens within 5 s."""
    probe = (
        f"if timeout 5 bash -c '</dev/tcp/{host}/{port}' 2>/dev/null; then echo open; else echo closed; fi"
    )
    return realnodes.kubectl("exec", "-n", namespace, pod, "--", "bash", "-c", probe).strip() == "open"


@pytest.fixture(scope="module")
def d2000(realnodes: RealNodes) -> Iterator[DeployedExample]:
    namespace = f"rn-d2000-{uuid.uuid4().hex[:6]}"
    try:
        variables = extra_vars(realnodes, namespace, database_stand_in(realnodes, f"{namespace}-db"))
        # site.yml's order: the Secrets (the database credentials every server reads), the license (no server
        # starts without LicenceRun.code), then the app.
        yield DeployedExample(namespace, variables, run(DEPLOY, variables))
    finally:
        for name in (namespace, f"{namespace}-db"):
            realnodes.kubectl("delete", "namespace", name, "--wait=false", check=False)


def live_pods(realnodes: RealNodes, namespace: str) -> list[dict]:
    return realnodes.live_pods(namespace, "app.kubernetes.io/instance=d2000")


def labels(pod: dict) -> tuple[str, str]:
    """(process, side) of a pod of the pair."""
    meta = pod["metadata"]["labels"]
    return meta["app.kubernetes.io/component"], meta["redundant.kube/side"]


def app_info(realnodes: RealNodes, namespace: str) -> dict:
    info = run_module(
        "app_info", {"name": "d2000", "namespace": namespace, "kubeconfig": str(realnodes.cluster.kubeconfig)}
    )
    assert not info.failed, info.result
    return info.result


def hot_side(realnodes: RealNodes, namespace: str, not_side: str | None = None) -> str:
    """The side app_info reports HOT, once exactly one server pod answers the HOT check (and it is not
    `not_side`)."""

    def one_hot() -> str | None:
        info = app_info(realnodes, namespace)
        if len(info["active_pods"]) == 1 and info["active_side"] != not_side:
            return info["active_side"]
        return None

    return realnodes.wait(f"exactly one HOT server{f' other than {not_side}' if not_side else ''}", one_hot)


def server_state(realnodes: RealNodes, namespace: str, side: str) -> dict | None:
    servers = [p for p in live_pods(realnodes, namespace) if labels(p) == ("server", side)]
    if len(servers) != 1 or not servers[0]["status"].get("podIP"):
        return None  # between a deleted pod and its replacement
    answer = realnodes.kubectl(
        "exec",
        "-n",
        namespace,
        servers[0]["metadata"]["name"],
        "--",
        "d2000-like",
        "state",
        "server",
        check=False,
    ).strip()
    return json.loads(answer) if answer.startswith("{") else None


def clients_by_pod(realnodes: RealNodes, namespace: str, side: str) -> set[tuple[str, str]] | None:
    """(process, side) of the pods connected to this side's server, by the address each connection came
    from (the pod IP as the server saw it, not what the client says of itself)."""
    state = server_state(realnodes, namespace, side)
    if state is None:
        return None
    by_ip = {p["status"].get("podIP"): labels(p) for p in live_pods(realnodes, namespace)}
    return {by_ip.get(c["address"], ("unknown", c["address"])) for c in state["clients"]}


def started(pod: dict) -> str:
    (status,) = pod["status"]["containerStatuses"]
    return status["state"].get("running", {}).get("startedAt", "")


def test_d2000_pair_runs_beside_its_servers_with_one_hot_side_and_a_rerun_restarts_nothing(
    realnodes: RealNodes, d2000
):
    assert d2000.first.rc == 0, d2000.first.explain()
    pods = live_pods(realnodes, d2000.namespace)
    expected = {("server", s) for s in "ab"} | {(c, s) for c in (*COMPANIONS, "arc") for s in "ab"}
    assert sorted(labels(p) for p in pods) == sorted(expected)
    for pod in pods:
        (status,) = pod["status"]["containerStatuses"]
        assert pod["status"]["phase"] == "Running" and status["started"] and "running" in status["state"], pod

    # Placement, as the module reports it: A and B apart, every companion and archive instance beside its server.
    (report,) = d2000.first.results("Read each app's pods and redundancy")
    assert report["redundant"], report["reasons"]
    servers = {p["side"]: p["node"] for p in report["pods"] if p["kind"] == "server"}
    assert servers["a"] != servers["b"]
    assert all(p["node"] == servers[p["side"]] for p in report["pods"]), report["pods"]

    hot = hot_side(realnodes, d2000.namespace)
    standby = OTHER[hot]
    # Every companion with its own side's server, both archive instances with the HOT one.
    own = {side: {(c, side) for c in COMPANIONS} for side in "ab"}
    wanted = {hot: own[hot] | {("arc", "a"), ("arc", "b")}, standby: own[standby]}
    connected = realnodes.wait(
        "every companion connected to its own side's server and the archive instances to the HOT one",
        lambda: (
            (found := {s: clients_by_pod(realnodes, d2000.namespace, s) for s in "ab"}) == wanted and found
        ),
        timeout=60,
    )
    assert connected == wanted
    state = {side: server_state(realnodes, d2000.namespace, side) for side in "ab"}
    assert (state[hot]["state"], state[standby]["state"]) == ("HOT", "STANDBY")
    license_map = realnodes.get("configmap", "d2000-license", "-n", d2000.namespace)
    for side in "ab":
        assert state[side]["license"] == license_map["data"]["LicenceRun.code"]
        assert state[side]["config"]["instance.properties"] == "instance.name=d2000\nredundancy=true\n"
        assert state[side]["config"]["ConsolesInfo.txt"] == "A;B\n"
        # One log claim per side: the server reads what every process of its side wrote there at start.
        assert state[side]["log_files"] == sorted(f"{p}-{side}.log" for p in ("server", *COMPANIONS, "arc"))

    before = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"] for p in pods}
    again = run(DEPLOY, d2000.extra_vars)
    assert again.rc == 0, again.explain()
    assert again.stats.get("changed") == 0, again.explain()
    after = {
        p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
        for p in live_pods(realnodes, d2000.namespace)
    }
    assert after == before
    print(f"d2000 pair: first run {d2000.first.seconds:.0f} s, second run {again.seconds:.0f} s")


def test_egress_policy_lets_the_servers_reach_the_database_port_and_no_other(realnodes: RealNodes, d2000):
    assert d2000.first.rc == 0, d2000.first.explain()
    db = d2000.extra_vars["d2000_db_host"]
    for port in DB_PORTS:  # both ports answer where no policy applies
        assert connects(realnodes, f"{d2000.namespace}-db", "database", "127.0.0.1", port)
    for pod in live_pods(realnodes, d2000.namespace):
        if labels(pod)[0] == "server":
            name = pod["metadata"]["name"]
            assert connects(realnodes, d2000.namespace, name, db, DB_PORTS[0]), f"{name} -> {db}:5432"
            assert not connects(realnodes, d2000.namespace, name, db, DB_PORTS[1]), f"{name} -> {db}:5433"


def test_license_push_restarts_the_standby_server_before_the_hot_one(realnodes: RealNodes, d2000):
    assert d2000.first.rc == 0, d2000.first.explain()
    hot = hot_side(realnodes, d2000.namespace)
    standby = OTHER[hot]
    new = "# LicenceRun.code pushed by the realnodes test\ncustomer=realnodes\n"
    push = run(["license.yml"], {**d2000.extra_vars, "rk_license_content": new})
    assert push.rc == 0, push.explain()
    (pushed,) = push.results("Push the license")
    assert pushed["active_side"] == hot, pushed

    states = realnodes.wait(
        "both servers reporting the new license",
        lambda: (
            (s := {side: server_state(realnodes, d2000.namespace, side) for side in "ab"})
            and all(v and v["license"] == new for v in s.values())
            and s
        ),
    )
    # The STANDBY side's server started first (the process's own clock, and the container's start time).
    assert states[standby]["started"] < states[hot]["started"], states
    pods = {labels(p): p for p in live_pods(realnodes, d2000.namespace)}
    assert started(pods[("server", standby)]) <= started(pods[("server", hot)])
    # Nothing but the servers mounts the license: no companion restarted.
    assert all(p["status"]["containerStatuses"][0]["restartCount"] == 0 for p in pods.values())
    hot_side(realnodes, d2000.namespace)


def test_the_standby_takes_over_when_the_hot_server_process_or_pod_dies(realnodes: RealNodes, d2000):
    assert d2000.first.rc == 0, d2000.first.explain()
    hot = hot_side(realnodes, d2000.namespace)
    (pod,) = [p for p in live_pods(realnodes, d2000.namespace) if labels(p) == ("server", hot)]
    # The process dies (SIGTERM to the container's process): kubelet restarts the container in place.
    killed = time.monotonic()
    realnodes.kubectl("exec", "-n", d2000.namespace, pod["metadata"]["name"], "--", "kill", "1", check=False)
    assert hot_side(realnodes, d2000.namespace, not_side=hot) == OTHER[hot]
    print(f"d2000 pair: side {OTHER[hot].upper()} HOT {time.monotonic() - killed:.1f} s after the kill")
    back = realnodes.wait(
        "the killed server back as STANDBY",
        lambda: (s := server_state(realnodes, d2000.namespace, hot)) and s["state"] == "STANDBY" and s,
    )
    assert back["host"] == pod["metadata"]["name"]  # the same pod, its container restarted
    assert hot_side(realnodes, d2000.namespace) == OTHER[hot]

    # The new HOT server's pod is deleted: the first side takes HOT back.
    (pod,) = [p for p in live_pods(realnodes, d2000.namespace) if labels(p) == ("server", OTHER[hot])]
    deleted = time.monotonic()
    realnodes.kubectl("delete", "pod", "-n", d2000.namespace, pod["metadata"]["name"], "--wait=false")
    assert hot_side(realnodes, d2000.namespace, not_side=OTHER[hot]) == hot
    print(f"d2000 pair: side {hot.upper()} HOT {time.monotonic() - deleted:.1f} s after the pod deletion")
