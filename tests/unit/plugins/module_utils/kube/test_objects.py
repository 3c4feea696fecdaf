"""The shared vocabulary (kube/objects.py): selectors, digests, annotation keys, readiness."""

from __future__ import annotations

from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    checksum_annotation_key,
    content_digest,
    label_selector,
)


def test_label_selector_string():
    sel = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [{"key": "side", "operator": "In", "values": ["a", "b"]}],
    }
    assert label_selector(sel) == "a=1,b=2,side in (a,b)"


def test_digest_ignores_metadata_and_key_is_valid_annotation():
    a = {"kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a": "b"}}, "data": {"k": "v"}}
    b = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}}
    assert content_digest(a) == content_digest(b)
    assert content_digest(a) != content_digest({"data": {"k": "w"}})
    key = checksum_annotation_key("ConfigMap", "n" * 100)
    prefix, name = key.split("/")
    assert prefix == "checksum.redundant.kube"
    assert len(name) <= 63
    assert key == checksum_annotation_key("ConfigMap", "n" * 100)
