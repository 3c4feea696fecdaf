"""The d2000_pair example inventory on running containers, with the D2000-like pair
(`localhost/redundant-kube-test/d2000/<process>`, tests/realnodes/apps/d2000: NOT Ipesoft D2000, a small program
that behaves like it where the collection relies on it). The example is changed only by EXTRA_VARS: the
images' registry and version, this cluster's storage class, the namespace and the kubeconfig.

What the servers report is read from inside their containers (`d2000-like state server`); which side is HOT
only through `redundant.kube.app_info` (the example's exec active_probe). The example's external database is
Debian's PostgreSQL server (`localhost/redundant-kube-test/postgres`) with the example's user, password and
databases, in a namespace of its own; the servers and archive instances open its DSNs through unixODBC.

Realnodes tier only: tests/realnodes is not in pytest's testpaths, `make test-realnodes` runs it on the
real-node cluster (tests/realnodes/conftest.py)."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from ansible_run import run_module
from conftest import DeployedExample, RealNodes, figure
from playbook_run import PlaybookRun, run_playbook

COMPANIONS = ("clc", "evh", "eds", "kom", "web")
OTHER = {"a": "b", "b": "a"}
DEPLOY = ["keystore.yml", "license.yml", "app.yml"]


EXAMPLE = Path(__file__).resolve().parents[2] / "inventories/d2000_pair/group_vars/all/d2000_pair.yml"
# The database's port as the example allows it (5432), and another the same pod listens on.
DB_PORTS = (5432, 5433)


class ExampleDatabase(NamedTuple):
    """The example's external database as its inventory describes it."""

    user: str
    password: str
    dsns: dict[str, str]  # DSN -> database name


def example_database() -> ExampleDatabase:
    example = yaml.safe_load(EXAMPLE.read_text())
    (app,) = example["rk_apps"]
    dsns = {dsn: settings["Database"] for dsn, settings in app["odbc"]["dsns"].items()}
    return ExampleDatabase(example["d2000_db_user"], example["d2000_db_password"], dsns)


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


def psql(realnodes: RealNodes, namespace: str, sql: str) -> str:
    """A query as the server's superuser (the example's database user, POSTGRES_USER) on the local socket (trust),
    its rows unaligned."""
    example = example_database()
    return realnodes.kubectl(
        "exec", "-n", namespace, "database", "-c", "postgres", "--", "runuser", "-u", "postgres", "--",
        "psql", "-v", "ON_ERROR_STOP=1", "-At", "-U", example.user, "-d", min(example.dsns.values()), "-c", sql,
    )  # fmt: skip


def database(realnodes: RealNodes, namespace: str) -> str:
    """The example's external PostgreSQL: Debian's PostgreSQL server (the test image) with the example's user,
    password and databases, in a pod that also listens on 5433 (the port the egress policy must block); its IP."""
    user, password, dsns = example_database()
    realnodes.kubectl("create", "namespace", namespace)
    realnodes.kubectl(
        "create", "secret", "generic", "database", "-n", namespace, f"--from-literal=password={password}"
    )
    first, *others = sorted(set(dsns.values()))  # the first made by the server's start (POSTGRES_DB)
    realnodes.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "database", "namespace": namespace},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "postgres",
                        "image": realnodes.images["test-postgres"],
                        "imagePullPolicy": "Never",
                        "env": [
                            {"name": "POSTGRES_USER", "value": user},
                            {"name": "POSTGRES_DB", "value": first},
                            {"name": "POSTGRES_PASSWORD_FILE", "value": "/secret/password"},
                        ],
                        "volumeMounts": [{"name": "password", "mountPath": "/secret", "readOnly": True}],
                        "readinessProbe": {
                            "exec": {"command": ["pg_isready", "-h", "127.0.0.1"]},
                            "periodSeconds": 1,
                        },
                    },
                    {
                        "name": "other-port",
                        "image": realnodes.images["userland"],
                        "imagePullPolicy": "Never",
                        "command": ["nc", "-lk", str(DB_PORTS[1])],
                    },
                ],
                "volumes": [{"name": "password", "secret": {"secretName": "database"}}],
            },
        }
    )
    address = realnodes.wait(
        "PostgreSQL ready",
        lambda: (
            (pod := realnodes.get("pod", "database", "-n", namespace))["status"].get("podIP")
            and all(c["ready"] for c in pod["status"].get("containerStatuses", [{"ready": False}]))
            and pod["status"]["podIP"]
        ),
    )
    for name in others:
        psql(realnodes, namespace, f'CREATE DATABASE "{name}" OWNER "{user}"')
    return address


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
        variables = extra_vars(realnodes, namespace, database(realnodes, f"{namespace}-db"))
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


def process_state(realnodes: RealNodes, namespace: str, pod: str, process: str) -> dict | None:
    """What the process in the pod reports of itself (`d2000-like state PROCESS`); None while it does not answer."""
    answer = realnodes.kubectl(
        "exec", "-n", namespace, pod, "--", "d2000-like", "state", process, check=False
    ).strip()
    return json.loads(answer) if answer.startswith("{") else None


def server_state(realnodes: RealNodes, namespace: str, side: str) -> dict | None:
    servers = [p for p in live_pods(realnodes, namespace) if labels(p) == ("server", side)]
    if len(servers) != 1 or not servers[0]["status"].get("podIP"):
        return None  # between a deleted pod and its replacement
    return process_state(realnodes, namespace, servers[0]["metadata"]["name"], "server")


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
    figure(f"d2000 pair: first run {d2000.first.seconds:.0f} s, second run {again.seconds:.0f} s")


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


def socket_timers(
    realnodes: RealNodes, namespace: str, pod: str, host: str, port: int
) -> list[tuple[str, float]]:
    """Per established connection from the pod to host:port, the timer the kernel runs on it and the seconds until
    it fires: /proc/net/tcp of the pod's network namespace (addresses in hex, the IPv4 one in host byte order;
    timer kinds 0 none, 1 retransmit, 2 keepalive, 4 zero window probe; due in USER_HZ ticks, 100 a second)."""
    remote = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
    kinds = {0: "none", 1: "retransmit", 2: "keepalive", 3: "time-wait", 4: "zero-window-probe"}
    timers = []
    for line in realnodes.kubectl("exec", "-n", namespace, pod, "--", "cat", "/proc/net/tcp").splitlines()[
        1:
    ]:
        fields = line.split()
        if fields[2] == remote and fields[3] == "01":  # ESTABLISHED
            kind, due = fields[5].split(":")
            timers.append((kinds.get(int(kind, 16), kind), int(due, 16) / 100))
    return timers


def test_servers_and_archive_instances_hold_the_example_dsns_open_with_its_keepalives(
    realnodes: RealNodes, d2000
):
    assert d2000.first.rc == 0, d2000.first.explain()
    example = example_database()
    db = d2000.extra_vars["d2000_db_host"]
    # The example gives odbc.ini to the servers and the archive instances, each opening every DSN through
    # unixODBC and Debian's psqlODBC with the file the module renders.
    holders = {
        labels(p): p for p in live_pods(realnodes, d2000.namespace) if labels(p)[0] in ("server", "arc")
    }
    assert sorted(holders) == [("arc", "a"), ("arc", "b"), ("server", "a"), ("server", "b")]
    for (process, side), pod in holders.items():
        name = pod["metadata"]["name"]
        state = realnodes.wait(
            f"the {process} of side {side} connected to every DSN",
            lambda name=name, process=process: (
                (s := process_state(realnodes, d2000.namespace, name, process))
                and len(s["odbc"]) == len(example.dsns)
                and all("database" in result for result in s["odbc"].values())
                and s
            ),
            timeout=60,
        )
        assert {dsn: result["database"] for dsn, result in state["odbc"].items()} == example.dsns

    # The database sees them: a session per DSN from each pod's address, as the example's user.
    rows = psql(
        realnodes,
        f"{d2000.namespace}-db",
        f"SELECT datname, host(client_addr) FROM pg_stat_activity WHERE usename = '{example.user}'",
    )
    sessions = {tuple(row.split("|")) for row in rows.splitlines()}
    expected = {
        (database, p["status"]["podIP"]) for p in holders.values() for database in example.dsns.values()
    }
    assert expected <= sessions, rows

    # The keepalive the module renders into every DSN (KeepaliveTime = 60) is on the sockets: each idle connection
    # runs a keepalive timer due within 60 s (without the setting, libpq's keepalive waits the kernel's 7200 s).
    for pod in holders.values():
        timers = socket_timers(realnodes, d2000.namespace, pod["metadata"]["name"], db, DB_PORTS[0])
        assert len(timers) == len(example.dsns), (pod["metadata"]["name"], timers)
        assert all(kind == "keepalive" and due <= 60 for kind, due in timers), (
            pod["metadata"]["name"],
            timers,
        )
        figure(f"d2000 pair: {pod['metadata']['name']} database connections' timers {timers}")


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
    figure(f"d2000 pair: side {OTHER[hot].upper()} HOT {time.monotonic() - killed:.1f} s after the kill")
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
    figure(f"d2000 pair: side {hot.upper()} HOT {time.monotonic() - deleted:.1f} s after the pod deletion")
