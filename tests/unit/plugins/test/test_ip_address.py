"""The ip_address Jinja test that the node roles use to validate addresses."""

from __future__ import annotations

import pytest

from ansible_collections.redundant.kube.plugins.test.ip_address import TestModule as IpAddressTestPlugin
from ansible_collections.redundant.kube.plugins.test.ip_address import is_ip_address


@pytest.mark.parametrize("value", ["10.43.0.10", "10.96.0.10", "127.0.0.153", "fd00::10", "::1"])
def test_addresses(value: str) -> None:
    assert is_ip_address(value)


@pytest.mark.parametrize("value", ["10.43.0.300", "10.43.0.0/16", "kube-dns", "", " 10.43.0.10", 10, None])
def test_not_addresses(value: object) -> None:
    assert not is_ip_address(value)


def test_registered_under_its_name() -> None:
    assert IpAddressTestPlugin().tests()["ip_address"] is is_ip_address
