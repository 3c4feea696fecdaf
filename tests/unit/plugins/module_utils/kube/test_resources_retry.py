"""Resources.request against a real HTTP server on this machine that refuses, drops or answers 'not now':
API blips are retried with backoff (bounded, or within a window), answers are not, and a POST is never
repeated once the server may have acted on it; a module's result says how many requests it repeated."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible_run import run_module

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    ConnectionSettings,
    KubeError,
    api_client_from_settings,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import (
    MAX_RETRIES,
    ApiStatusError,
    NamespaceTerminatingError,
    Resources,
)

# What the API server answers to a create (an eviction too) in a namespace being deleted.
NAMESPACE_TERMINATING = {
    "kind": "Status",
    "code": 403,
    "reason": "Forbidden",
    "message": 'pods "p" is forbidden: unable to create new content in namespace x because it is being terminated',
    "details": {
        "name": "p",
        "kind": "pods",
        "causes": [{"type": "NamespaceTerminating", "field": "metadata.namespace"}],
    },
}


class FlakyApiServer(ThreadingHTTPServer):
    """Answers each request with the next of `script` ("drop" closes the connection unanswered, a number is
    that HTTP status, a (status, Status body) pair that answer), then with 200 and an empty list."""

    daemon_threads = True

    def __init__(self, port: int, script: list[str | int | tuple[int, dict]]) -> None:
        self.script = list(script)
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: FlakyApiServer

    def _answer(self) -> None:
        self.server.seen.append(self.command)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        step = self.server.script.pop(0) if self.server.script else 200
        if step == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        step, status = step if isinstance(step, tuple) else (step, {"kind": "Status", "message": "not now"})
        body = json.dumps({"items": []} if step == 200 else status).encode()
        self.send_response(int(step))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(port: int, script: list[str | int | tuple[int, dict]]) -> FlakyApiServer:
    server = FlakyApiServer(port, script)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def port() -> Iterator[int]:
    yield free_port()


def resources_at(port: int, **options) -> Resources:
    client = api_client_from_settings(ConnectionSettings(host=f"http://127.0.0.1:{port}"), environ={})
    return Resources(client, **options)


class FakeTime:
    """sleep() advances clock(): the backoff is measured without waiting for it."""

    def __init__(self) -> None:
        self.now, self.slept = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def test_refused_until_the_server_starts_is_retried(port):
    starter = threading.Timer(1.2, serve, (port, []))
    starter.start()
    try:
        resources = resources_at(port)
        assert resources.list("v1", "Namespace") == []
        assert 1 <= resources.retries <= MAX_RETRIES
    finally:
        starter.join()


@pytest.mark.parametrize("status", [429, 503, 504])
def test_not_now_answers_are_retried(port, status):
    server = serve(port, [status, status])
    timing = FakeTime()
    resources = resources_at(port, sleep=timing.sleep, clock=timing.clock)
    assert resources.get("v1", "Namespace", "x") == {"items": []}
    assert resources.retries == 2 and timing.slept == [0.5, 1.0]
    server.shutdown()


def test_dropped_connection_is_retried_for_apply_but_not_for_a_post(port):
    server = serve(port, ["drop"])
    resources = resources_at(port, sleep=FakeTime().sleep)
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    resources.apply(manifest)
    assert resources.retries == 1 and server.seen == ["PATCH", "PATCH"]
    server.script = ["drop"]
    with pytest.raises(KubeError, match="cannot reach"):
        resources.create(manifest)
    assert resources.retries == 1 and server.seen[2:] == ["POST"]
    server.shutdown()


def test_a_refused_eviction_is_an_answer_not_a_blip(port):
    server = serve(port, [429])
    resources = resources_at(port, sleep=FakeTime().sleep)
    with pytest.raises(ApiStatusError) as err:
        resources.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}})
    assert err.value.status == 429 and resources.retries == 0
    server.shutdown()


def test_other_errors_are_not_retried(port):
    server = serve(port, [500, 422])
    resources = resources_at(port, sleep=FakeTime().sleep)
    with pytest.raises(ApiStatusError):
        resources.list("v1", "Namespace")
    assert resources.retries == 0
    server.shutdown()


def test_without_a_window_retries_are_bounded(port):
    timing = FakeTime()
    resources = resources_at(port, sleep=timing.sleep, clock=timing.clock)
    with pytest.raises(KubeError) as err:
        resources.list("v1", "Namespace")
    assert resources.retries == MAX_RETRIES
    assert timing.slept == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert f"after {MAX_RETRIES} retries over 16s" in str(err.value)
    assert "\n" not in str(err.value)


def test_with_a_window_retries_last_as_long_as_the_wait(port):
    timing = FakeTime()
    resources = resources_at(port, retry_window=30, sleep=timing.sleep, clock=timing.clock)
    with pytest.raises(KubeError, match="cannot reach the Kubernetes API server"):
        resources.list("v1", "Namespace")
    assert sum(timing.slept) == pytest.approx(30)
    assert max(timing.slept) == 8.0 and resources.retries == len(timing.slept)


def test_a_module_result_counts_its_retries_whether_it_succeeds_or_fails(port, tmp_path):
    server = serve(port, [503, "drop"])
    args = {"host": f"http://127.0.0.1:{port}"}
    env = {"HOME": str(tmp_path), "KUBECONFIG": ""}
    done = run_module("cluster_info", args, env=env)
    assert not done.failed and done.result["retries"] == 2, done.result
    server.script = [503, 403]  # a blip, then an answer: the run fails, and says it retried once
    refused = run_module("cluster_info", args, env=env)
    assert refused.failed and "is forbidden" in refused.result["msg"], refused.result
    assert refused.result["retries"] == 1
    server.script = [504]  # the module's own failure (a node missing) carries the count too
    missing = run_module("cluster_info", {**args, "expected_nodes": ["node-1"]}, env=env)
    assert missing.failed and "expected node(s) not ready" in missing.result["msg"], missing.result
    assert missing.result["retries"] == 1
    server.shutdown()


def test_a_write_refused_in_a_namespace_being_deleted_is_told_apart_from_a_missing_permission(port):
    server = serve(port, [(403, NAMESPACE_TERMINATING), 403])
    resources = resources_at(port)
    path = "/api/v1/namespaces/x/pods/p/eviction"
    with pytest.raises(NamespaceTerminatingError) as refused:
        resources.request("POST", path, body={}, what="eviction of pod x/p")
    assert "being terminated" in str(refused.value) and "RBAC" not in str(refused.value)
    with pytest.raises(KubeError) as forbidden:
        resources.request("POST", path, body={}, what="eviction of pod x/p")
    assert not isinstance(forbidden.value, NamespaceTerminatingError)
    assert "grant the user that permission (RBAC)" in str(forbidden.value)
    server.shutdown()
