"""Diffs (kube/diff.py): Secret values masked."""

from __future__ import annotations

from ansible_collections.redundant.kube.plugins.module_utils.kube.diff import masked, object_diff


def test_secret_values_are_masked_in_diffs():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "resourceVersion": "7"},
        "data": {"keystore.jceks": "c2VjcmV0"},
    }
    shown = masked(secret)
    assert "c2VjcmV0" not in str(shown)
    assert shown["data"]["keystore.jceks"].startswith("<masked sha256:")
    assert secret["data"]["keystore.jceks"] == "c2VjcmV0"  # the input is not modified
    diff = object_diff(None, secret)
    assert diff["before"] == {}
    assert "resourceVersion" not in diff["after"]["metadata"]
