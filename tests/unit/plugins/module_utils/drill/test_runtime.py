"""NodeDrain's evictions against a real HTTP server on this machine answering as the API server does: a pod in a
namespace being deleted is left to that deletion, a budget's refusal is reported, any other refusal stops the
drain."""

from __future__ import annotations

import pytest

from ansible_collections.redundant.kube.plugins.module_utils.drill.runtime import NodeDrain
from ansible_collections.redundant.kube.plugins.module_utils.kube.client import KubeError
from unit.plugins.module_utils.kube.test_resources_retry import (
    NAMESPACE_TERMINATING,
    FlakyApiServer,
    free_port,
    resources_at,
    serve,
)

POD = {"metadata": {"name": "p", "namespace": "x"}}
BUDGET = {"kind": "Status", "code": 429, "reason": "TooManyRequests", "message": "Cannot evict pod"}


def drain_answered_by(script: list) -> tuple[NodeDrain, FlakyApiServer]:
    """A NodeDrain whose API server gives the answers of `script`, and that server. An eviction is a POST, which
    the client never repeats: each answer reaches evict() as the server gave it."""
    port = free_port()
    server = serve(port, script)
    return NodeDrain(resources_at(port), poll=lambda *_: None, wait_timeout=10), server


def test_a_pod_of_a_namespace_being_deleted_is_left_to_that_deletion():
    drain, server = drain_answered_by([(403, NAMESPACE_TERMINATING)])
    assert drain.evict(POD) is None
    server.shutdown()


def test_a_refusal_by_the_budget_is_reported_and_any_other_stops_the_drain():
    drain, server = drain_answered_by([(429, BUDGET), 403])
    assert drain.evict(POD) == {"pod": "x/p", "status": 429, "message": "Cannot evict pod"}
    with pytest.raises(KubeError, match="RBAC"):
        drain.evict(POD)
    server.shutdown()
