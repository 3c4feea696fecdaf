"""Volume growth planning (app/growth.py) and the resize check of kube/volume_growth.py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from support.api_objects import iris_manifests, live_claim
from support.app_cases import EXTERNAL_DIGESTS, load_case

from ansible_collections.redundant.kube.plugins.module_utils.app.growth import plan_growth
from ansible_collections.redundant.kube.plugins.module_utils.app.render import render_app
from ansible_collections.redundant.kube.plugins.module_utils.app.spec import (
    SpecError,
    parse_quantity,
    spec_from_user_params,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.volume_growth import resize_done


def test_growth_pins_claim_and_names_its_users():
    pinned, [growth] = plan_growth(iris_manifests("12Gi"), {"iris-sys": live_claim("10Gi")}, {})
    claim = next(o for o in pinned if o["kind"] == "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert (growth.claim, growth.old, growth.new, growth.users) == (
        "iris-sys",
        "10Gi",
        "12Gi",
        (("Deployment", "iris-iris"),),
    )


def test_no_growth_when_equal_in_other_units():
    manifests = iris_manifests("10240Mi")
    pinned, growths = plan_growth(manifests, {"iris-sys": live_claim("10Gi")}, {})
    assert growths == [] and pinned == manifests


def test_shrink_is_refused():
    with pytest.raises(SpecError, match="claims cannot shrink: keep size at 10Gi or more"):
        plan_growth(iris_manifests("5Gi"), {"iris-sys": live_claim("10Gi")}, {})


def test_cluster_template_kept_and_member_claims_grown():
    params = load_case("midpoint_cluster")
    params["volumes"][1]["size"] = "2Gi"
    manifests = render_app(spec_from_user_params(params), EXTERNAL_DIGESTS)
    live_sts = next(
        o
        for o in render_app(spec_from_user_params(load_case("midpoint_cluster")), EXTERNAL_DIGESTS)
        if o["kind"] == "StatefulSet"
    )
    claims = {f"home-midpoint-midpoint-{i}": live_claim("1Gi") for i in range(3)}
    claims["home-midpoint-midpoint-extra"] = live_claim("1Gi")  # not a member claim
    pinned, growths = plan_growth(manifests, claims, {"midpoint-midpoint": live_sts})
    sts = next(o for o in pinned if o["kind"] == "StatefulSet")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert [g.claim for g in growths] == [f"home-midpoint-midpoint-{i}" for i in range(3)]


def test_resize_done():
    wanted = parse_quantity("12Gi")
    assert resize_done({"status": {"capacity": {"storage": "12Gi"}}}, wanted, parse_quantity)
    assert not resize_done({"status": {"capacity": {"storage": "10Gi"}}}, wanted, parse_quantity)
    pending = {
        "status": {
            "capacity": {"storage": "10Gi"},
            "conditions": [{"type": "FileSystemResizePending", "status": "True"}],
        }
    }
    assert resize_done(pending, wanted, parse_quantity)
    assert parse_quantity("12Gi") == Decimal(12 * 2**30)
