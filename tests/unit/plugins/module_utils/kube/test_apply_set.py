"""What apply_set decides from the server's answers (kube/apply_set.py)."""

from __future__ import annotations

from ansible_collections.redundant.kube.plugins.module_utils.kube.apply_set import action_for, restorable


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
