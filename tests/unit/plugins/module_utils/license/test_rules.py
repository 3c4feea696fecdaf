"""The pure decisions of redundant.kube.license: content, validation, consumers, staleness and order."""

from __future__ import annotations

import base64
import datetime

import pytest

from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    checksum_annotation_key,
    content_digest,
)
from ansible_collections.redundant.kube.plugins.module_utils.license.rules import (
    MAX_OBJECT_BYTES,
    Consumer,
    LicenseError,
    Validation,
    active_sides,
    check_key,
    check_selector,
    checksum_patch,
    consumer,
    current_entry,
    entry_bytes,
    failure_conditions,
    license_manifest,
    license_payload,
    needs_restart,
    other_sides,
    pod_restart_order,
    references,
    replacement_ready,
    rollout_order,
    side_order,
    stale_pods,
    stored_entry,
    template_restart_problem,
    validate_payload,
)

KEY = checksum_annotation_key("ConfigMap", "lic")
TODAY = datetime.date(2025, 6, 1)


def workload(name, side=None, role=None, kind="Deployment", annotations=None, pod_spec=None, **spec):
    labels = {}
    if side:
        labels["redundant.kube/side"] = side
    if role:
        labels["redundant.kube/workload-kind"] = role
    template = {
        "metadata": {"annotations": annotations or {}},
        "spec": pod_spec or {"containers": [{"name": "c"}]},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "ns", "labels": labels, "generation": 1},
        "spec": {"replicas": 1, "template": template, **spec},
        "status": {"observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 1, "replicas": 1},
    }


def pod(name, created="2025-06-01T10:00:00Z", ready=True, side=None, uid=None, labels=None, deleting=False):
    meta = {
        "name": name,
        "uid": uid or f"uid-{name}",
        "creationTimestamp": created,
        "labels": {**({"redundant.kube/side": side} if side else {}), **(labels or {})},
    }
    if deleting:
        meta["deletionTimestamp"] = "2025-06-01T10:00:09Z"
    return {
        "metadata": meta,
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


# -- content ---------------------------------------------------------------------------------------------
def test_payload_from_each_source():
    assert license_payload("LIC-1\n", None, None) == (b"LIC-1\n", False)
    assert license_payload(None, base64.b64encode(b"\x00\x01bin").decode(), None) == (b"\x00\x01bin", True)
    assert license_payload(None, None, b"text license") == (b"text license", False)
    assert license_payload(None, None, b"\xff\xfe\x00") == (b"\xff\xfe\x00", True)


def test_base64_with_line_breaks_is_accepted():
    encoded = base64.encodebytes(b"x" * 200).decode()  # wrapped at 76 columns, as `base64` prints it
    assert license_payload(None, encoded, None)[0] == b"x" * 200


@pytest.mark.parametrize(
    ("content", "b64", "src", "option"),
    [
        ("", None, None, "content is empty"),
        ("  \n", None, None, "content is empty"),
        (None, "", None, "b64_content is empty"),
        (None, None, b"", "src is empty"),
    ],
)
def test_empty_content_is_refused_naming_the_option(content, b64, src, option):
    with pytest.raises(LicenseError, match=option):
        license_payload(content, b64, src)


def test_bad_base64_is_refused():
    with pytest.raises(LicenseError, match="b64_content is not valid base64"):
        license_payload(None, "not base64 !!", None)


@pytest.mark.parametrize("key", ["LicenceRun.code", "license.lic", "a-b_c.1"])
def test_valid_keys(key):
    check_key("ConfigMap", key)


@pytest.mark.parametrize("key", ["conf/LicenceRun.code", "", "a b", "x" * 254])
def test_invalid_keys_name_the_option(key):
    with pytest.raises(LicenseError, match="is not a valid ConfigMap key"):
        check_key("ConfigMap", key)


# -- validation --------------------------------------------------------------------------------------------
def test_no_rules_accepts_anything():
    validate_payload(b"whatever", Validation(), TODAY, 8)


def test_regex_must_match():
    validate_payload(b"[License]\nserial=123\n", Validation(regex=r"^serial=\d+$"), TODAY, 20)
    with pytest.raises(LicenseError, match=r"validate\.regex: the license does not match"):
        validate_payload(b"[License]\n", Validation(regex=r"^serial=\d+$"), TODAY, 10)


def test_invalid_regex_is_a_clear_error():
    with pytest.raises(LicenseError, match=r"validate\.regex is not a valid regular expression"):
        validate_payload(b"x", Validation(regex="("), TODAY, 1)


def test_max_size():
    validate_payload(b"12345", Validation(max_size=5), TODAY, 5)
    with pytest.raises(LicenseError, match=r"validate\.max_size: the license has 6 bytes, more than 5"):
        validate_payload(b"123456", Validation(max_size=5), TODAY, 6)


def test_object_size_limit_applies_to_the_stored_form():
    with pytest.raises(LicenseError, match="more than a ConfigMap/Secret can hold"):
        validate_payload(b"x", Validation(), TODAY, MAX_OBJECT_BYTES + 1)


def test_explicit_expiry_date():
    validate_payload(b"x", Validation(expires="2025-06-01"), TODAY, 1)  # valid through its last day
    with pytest.raises(LicenseError, match="expired on 2025-05-31"):
        validate_payload(b"x", Validation(expires="2025-05-31"), TODAY, 1)


def test_expiry_read_from_the_content_with_days_left():
    rules = Validation(expiry_regex=r"valid until: (\S+)", expiry_format="%d.%m.%Y", min_days_left=30)
    validate_payload(b"valid until: 01.07.2025\n", rules, TODAY, 20)
    with pytest.raises(LicenseError, match=r"expires on 2025-06-15 \(14 days from today, at least 30"):
        validate_payload(b"valid until: 15.06.2025\n", rules, TODAY, 20)


def test_expiry_regex_errors():
    with pytest.raises(LicenseError, match="finds no expiry date"):
        validate_payload(b"no date here", Validation(expiry_regex=r"until (\S+)"), TODAY, 5)
    with pytest.raises(LicenseError, match="exactly one capture group"):
        validate_payload(b"until 2025-01-01", Validation(expiry_regex=r"until \S+"), TODAY, 5)
    with pytest.raises(LicenseError, match="'tomorrow' is not a date in format %Y-%m-%d"):
        validate_payload(b"until tomorrow", Validation(expiry_regex=r"until (\S+)"), TODAY, 5)


# -- the object ----------------------------------------------------------------------------------------------
def test_stored_entries_round_trip():
    for kind, binary, field in (
        ("ConfigMap", False, "data"),
        ("ConfigMap", True, "binaryData"),
        ("Secret", False, "data"),
    ):
        entry = stored_entry(kind, b"LIC\x00" if binary else b"LIC", binary)
        assert entry[0] == field
        obj = license_manifest(kind, "lic", "ns", "k", entry)
        assert current_entry(obj, "k") == entry
        assert entry_bytes(kind, current_entry(obj, "k")) == (b"LIC\x00" if binary else b"LIC")


def test_manifest_carries_only_our_key():
    obj = license_manifest("ConfigMap", "lic", "ns", "license.lic", ("data", "v1"))
    assert obj == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "lic", "namespace": "ns"},
        "data": {"license.lic": "v1"},
    }
    assert "data" not in license_manifest("ConfigMap", "lic", "ns", "license.lic", None)


def test_secret_value_is_base64_as_the_server_stores_it():
    entry = stored_entry("Secret", b"LIC-1", False)
    live = {"data": {"k": entry[1]}}
    assert content_digest(live) == content_digest({"data": {"k": base64.b64encode(b"LIC-1").decode()}})


# -- consumers ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pod_spec",
    [
        {"volumes": [{"name": "l", "configMap": {"name": "lic"}}]},
        {"volumes": [{"name": "l", "projected": {"sources": [{"configMap": {"name": "lic"}}]}}]},
        {
            "containers": [
                {
                    "name": "c",
                    "env": [{"name": "L", "valueFrom": {"configMapKeyRef": {"name": "lic", "key": "k"}}}],
                }
            ]
        },
        {"initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "lic"}}]}]},
    ],
)
def test_references_through_volumes_and_env(pod_spec):
    assert references(workload("w", pod_spec=pod_spec), "ConfigMap", "lic", KEY)
    assert not references(workload("w", pod_spec=pod_spec), "ConfigMap", "other", KEY)
    assert not references(
        workload("w", pod_spec=pod_spec), "Secret", "lic", checksum_annotation_key("Secret", "lic")
    )


def test_secret_references_and_annotation_alone():
    spec = {"volumes": [{"name": "l", "secret": {"secretName": "lic"}}]}
    assert references(workload("w", pod_spec=spec), "Secret", "lic", checksum_annotation_key("Secret", "lic"))
    assert references(workload("w", annotations={KEY: "d"}), "ConfigMap", "lic", KEY)
    assert not references(workload("w"), "ConfigMap", "lic", KEY)


def test_consumer_reads_side_and_role_from_labels():
    assert consumer(workload("d-server-a", side="a", role="server")) == Consumer(
        "Deployment", "d-server-a", "a", "server"
    )
    assert consumer(workload("ddb", kind="StatefulSet")).label == "StatefulSet ddb"


def test_checksum_patch_sets_or_removes():
    assert checksum_patch(KEY, "abc") == {"spec": {"template": {"metadata": {"annotations": {KEY: "abc"}}}}}
    assert checksum_patch(KEY, None)["spec"]["template"]["metadata"]["annotations"] == {KEY: None}


@pytest.mark.parametrize(
    ("kind", "spec", "problem"),
    [
        ("StatefulSet", {"updateStrategy": {"type": "OnDelete"}}, "OnDelete"),
        ("DaemonSet", {"updateStrategy": {"type": "OnDelete"}}, "OnDelete"),
        (
            "StatefulSet",
            {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}},
            "partition 2",
        ),
        (
            "StatefulSet",
            {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "50%"}}},
            "maxUnavailable 50%",
        ),
        ("Deployment", {"paused": True}, "is paused"),
    ],
)
def test_template_restart_problems(kind, spec, problem):
    found = template_restart_problem(workload("w", kind=kind, **spec))
    assert problem in found and "restart_method: delete_pods" in found


def test_template_restart_fine_for_ordinary_workloads():
    assert template_restart_problem(workload("w")) is None
    assert (
        template_restart_problem(workload("s", kind="StatefulSet", updateStrategy={"type": "RollingUpdate"}))
        is None
    )


# -- what is stale -----------------------------------------------------------------------------------------------
def test_template_restart_decision():
    current, old = workload("w", annotations={KEY: "new"}), workload("w", annotations={KEY: "old"})
    foreign = workload("w")
    assert not needs_restart(current, "template", KEY, "new", True, [])
    assert needs_restart(old, "template", KEY, "new", False, [])  # an earlier rollout stopped before it
    assert needs_restart(old, "template", KEY, "new", True, [])
    assert needs_restart(foreign, "template", KEY, "new", True, [])
    assert not needs_restart(foreign, "template", KEY, "new", False, [])  # nothing says it is stale


def test_delete_pods_decision_follows_change_or_stale_pods():
    w = workload("w")
    assert needs_restart(w, "delete_pods", KEY, "d", True, [])
    assert needs_restart(w, "delete_pods", KEY, "d", False, [pod("p")])
    assert not needs_restart(w, "delete_pods", KEY, "d", False, [])


def test_stale_pods_are_older_than_our_last_write():
    lic = {
        "metadata": {
            "managedFields": [
                {"manager": "helm", "time": "2025-06-01T12:00:00Z"},
                {"manager": "redundant.kube", "time": "2025-06-01T10:00:05Z"},
            ]
        }
    }
    pods = [
        pod("old", "2025-06-01T10:00:04Z"),
        pod("same-second", "2025-06-01T10:00:05Z"),
        pod("new", "2025-06-01T10:00:06Z"),
        pod("gone", "2025-06-01T09:00:00Z", deleting=True),
    ]
    assert [p["metadata"]["name"] for p in stale_pods(pods, lic, "redundant.kube")] == ["old"]
    assert stale_pods(pods, lic, "someone-else") == []


# -- order -------------------------------------------------------------------------------------------------------
def test_active_sides_count_ready_pods_only():
    assert active_sides([pod("a", side="a"), pod("b", side="b", ready=False)]) == {"a"}
    assert active_sides([pod("a", side="a"), pod("b", side="b")]) == {"a", "b"}


@pytest.mark.parametrize(
    ("order", "active", "expected"),
    [
        ("passive_first", "a", ["b", "a"]),
        ("passive_first", "b", ["a", "b"]),
        ("passive_first", None, ["a", "b"]),
        ("a_first", "a", ["a", "b"]),
        ("b_first", None, ["b", "a"]),
    ],
)
def test_side_order(order, active, expected):
    assert side_order({"a", "b"}, order, active) == expected


def test_rollout_order_passive_side_first_server_first():
    consumers = [
        Consumer("Deployment", "d-clc-a", "a", "companion"),
        Consumer("Deployment", "d-server-a", "a", "server"),
        Consumer("Deployment", "d-arc-b", "b", "per-side"),
        Consumer("Deployment", "d-clc-b", "b", "companion"),
        Consumer("Deployment", "d-server-b", "b", "server"),
    ]
    names = [c.name for c in rollout_order(consumers, "passive_first", "a")]
    assert names == ["d-server-b", "d-clc-b", "d-arc-b", "d-server-a", "d-clc-a"]
    names = [c.name for c in rollout_order(consumers, "passive_first", "b")]
    assert names == ["d-server-a", "d-clc-a", "d-server-b", "d-clc-b", "d-arc-b"]


def test_rollout_order_without_sides_by_name():
    consumers = [
        Consumer("StatefulSet", "ddb-dn", None, None),
        Consumer("StatefulSet", "ddb-ctl", None, None),
    ]
    assert [c.name for c in rollout_order(consumers, "passive_first", None)] == ["ddb-ctl", "ddb-dn"]


def test_other_sides():
    a, b, single = workload("s-a", side="a"), workload("s-b", side="b"), workload("s")
    assert other_sides([a, b, single], "b") == [a]
    assert other_sides([a, b, single], "a") == [b]


def test_pod_restart_order_highest_ordinal_first():
    pods = [pod("ddb-dn-2"), pod("ddb-dn-10"), pod("ddb-dn-1"), pod("ddb-dn-0", deleting=True)]
    assert [p["metadata"]["name"] for p in pod_restart_order(pods)] == ["ddb-dn-10", "ddb-dn-2", "ddb-dn-1"]


def test_replacement_ready():
    old = pod("ddb-0", uid="old")
    assert not replacement_ready([old], "old", 1)
    assert not replacement_ready([pod("ddb-0", uid="new", ready=False)], "old", 1)
    assert replacement_ready([pod("ddb-0", uid="new")], "old", 1)
    assert not replacement_ready([pod("ddb-0", uid="new")], "old", 2)


def test_failure_conditions_quote_the_controller():
    w = workload("w")
    w["status"]["conditions"] = [
        {"type": "Available", "status": "True"},
        {"type": "ReplicaFailure", "status": "True", "message": 'pods "w-1" is forbidden: denied'},
    ]
    assert failure_conditions(w) == ['ReplicaFailure: pods "w-1" is forbidden: denied']


@pytest.mark.parametrize(
    "selector",
    [
        "app=d2000",
        "app==d2000,tier!=db",
        "app in (d2000, iris),!legacy",
        "example.com/role notin (a),env",
        "app=",
        "generation>3",
        "",
    ],
)
def test_selectors_the_api_server_accepts(selector):
    check_selector("consumers.selector", selector)


@pytest.mark.parametrize(
    ("selector", "fragment"),
    [
        ("app in (", "'(' is not closed"),
        ("app in (a))", "unbalanced parentheses"),
        ("app in ()", "needs at least one value"),
        ("app = d2000 x", "is not a requirement"),
        ("app=d 2000", "is not a requirement"),
        ("App_/x=1", "'App_/x' is not a label key"),
        ("app=" + "v" * 64, "is not a label value"),
        ("app=-x", "'-x' is not a label value"),
        ("app in (a,-b)", "'-b' is not a label value"),
        ("generation>x", "is not a requirement"),
    ],
)
def test_malformed_selectors_are_refused_naming_the_option(selector, fragment):
    with pytest.raises(LicenseError) as err:
        check_selector("consumers.selector", selector)
    assert str(err.value).startswith(f"consumers.selector '{selector}'")
    assert fragment in str(err.value), str(err.value)
