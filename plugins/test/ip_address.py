# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja test ``redundant.kube.ip_address``: is the value a single IPv4 or IPv6 address?

ansible.utils (ipaddr) is not a dependency of this collection; the roles only need this one check.
"""

from __future__ import annotations

import ipaddress

DOCUMENTATION = r"""
name: ip_address
short_description: Test whether a value is one IPv4 or IPv6 address
version_added: 0.1.0
description:
  - True for a string such as C(10.43.0.10) or C(fd00::10); false for networks, host names and anything else.
options:
  _input:
    description: The value to test.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Refuse a cluster DNS IP that is not an address
  ansible.builtin.assert:
    that: dns_resolver_cluster_dns_ip is redundant.kube.ip_address
"""

RETURN = r"""
_value:
  description: Whether the input is one IP address.
  type: bool
"""


def is_ip_address(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return value.strip() == value


class TestModule:
    def tests(self) -> dict[str, object]:
        return {"ip_address": is_ip_address}
