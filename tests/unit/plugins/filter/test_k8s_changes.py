"""redundant.kube.k8s_real_changes: bookkeeping-only diffs of kubernetes.core.k8s are not changes."""

from __future__ import annotations

from ansible_collections.redundant.kube.plugins.filter.k8s_changes import k8s_real_changes

FIRST_REAPPLY_OF_A_NAMESPACE = {
    "changed": True,
    "result": {"kind": "Namespace", "metadata": {"name": "local-path-storage"}},
    "diff": {
        "before": {"metadata": {"resourceVersion": "523"}},
        "after": {
            "metadata": {"managedFields": [{"manager": "before-first-apply"}], "resourceVersion": "643"}
        },
    },
}
REAL_CHANGE = {
    "changed": True,
    "result": {"kind": "ConfigMap", "metadata": {"name": "local-path-config"}},
    "diff": {
        "before": {"data": {"a": "1"}, "metadata": {"resourceVersion": "1"}},
        "after": {"data": {"a": "2"}},
    },
}
STATUS_ONLY = {
    "changed": True,
    "result": {"kind": "Deployment", "metadata": {"name": "p"}},
    "diff": {"before": {"status": {"readyReplicas": 0}}, "after": {"status": {"readyReplicas": 1}}},
}


def test_multi_document_result():
    registered = {
        "changed": True,
        "result": {"results": [FIRST_REAPPLY_OF_A_NAMESPACE, REAL_CHANGE, STATUS_ONLY]},
    }
    assert k8s_real_changes(registered) == ["ConfigMap/local-path-config"]


def test_single_object_result_and_unchanged():
    assert k8s_real_changes(REAL_CHANGE) == ["ConfigMap/local-path-config"]
    assert k8s_real_changes(FIRST_REAPPLY_OF_A_NAMESPACE) == []
    assert k8s_real_changes({"changed": False, "result": {"kind": "Namespace"}}) == []


def test_a_change_without_a_diff_counts():
    # Without diff data there is no way to tell: count it (never hide a real change).
    assert k8s_real_changes({"changed": True, "result": {"kind": "Secret", "metadata": {"name": "s"}}}) == [
        "Secret/s"
    ]
