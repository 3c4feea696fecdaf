#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Check that a node is ready for Kubernetes and its storage, without changing it
version_added: 0.1.0
description:
  - Checks packages, services, kernel modules, file systems, DNS resolution of cluster names,
    C(kernel.core_pattern) and free disk space, and reports one line per failed check with how to fix it.
  - Changes nothing, so it runs the same in check mode; it never reports C(changed).
  - Kernel modules count as available when loaded, built into the running kernel, or loadable from
    C(/lib/modules/<release>). Each result carries the evidence, for example a container that shares a
    host kernel without iSCSI support reports C(iscsi_tcp) as missing and says why.
options:
  packages:
    description: Packages that must be installed (queried with C(dpkg-query) or C(rpm)).
    type: list
    elements: str
    default: []
  services:
    description: systemd units that must be active and enabled at boot.
    type: list
    elements: str
    default: []
  kernel_modules:
    description: Kernel modules that must be available (loaded, built in or loadable).
    type: list
    elements: str
    default: []
  filesystems:
    description: File system types the kernel must be able to mount, such as C(nfs) or C(nfs4).
    type: list
    elements: str
    default: []
  dns_names:
    description: Names that must resolve through the node's resolver, such as C(kubernetes.default.svc.cluster.local).
    type: list
    elements: str
    default: []
  core_pattern:
    description:
      - Expected value of C(kernel.core_pattern). For a pipe pattern the program must also exist.
      - Not checked when omitted.
    type: str
  free_disk:
    description: Paths and the free space each needs.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: A path on the file system to measure.
        type: str
        required: true
      min_free:
        description: Minimum free space, bytes or a number with K, M, G or T (binary units), for example C(10G).
        type: str
        required: true
  package_manager:
    description: How to query packages; C(auto) picks C(dpkg) when C(dpkg-query) exists, else C(rpm).
    type: str
    choices: [auto, dpkg, rpm]
    default: auto
  fail_on_error:
    description: Fail the task when a check fails. With C(false) the results are only returned.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Read-only; check mode runs the same checks.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
author:
  - redundant.kube contributors (@redundant-kube)
"""

EXAMPLES = r"""
- name: Check a node before installing K3S and Longhorn
  redundant.kube.preflight:
    packages: [nfs-common, open-iscsi]
    services: [iscsid, systemd-resolved]
    kernel_modules: [br_netfilter, overlay, iscsi_tcp, dm_crypt]
    filesystems: [nfs, nfs4]
    dns_names: [kubernetes.default.svc.cluster.local]
    core_pattern: /data/ddb/core/core.%p
    free_disk:
      - path: /var/lib
        min_free: 20G

- name: Only report, then decide
  redundant.kube.preflight:
    kernel_modules: [iscsi_tcp]
    fail_on_error: false
  register: preflight

- name: Show what is missing
  ansible.builtin.debug:
    var: preflight.failed_checks
  when: not preflight.passed
"""

RETURN = r"""
passed:
  description: Whether every check passed.
  returned: always
  type: bool
  sample: false
failed_checks:
  description: One line per failed check, with what was seen and how to fix it.
  returned: always
  type: list
  elements: str
  sample:
    - "kernel_module iscsi_tcp: not loaded, not built into kernel 6.1.0-18-amd64, and not in
      /lib/modules/6.1.0-18-amd64/modules.dep; fix: install the module package of the running kernel ..."
checks:
  description: Every check with its kind, name, result, detail and fix.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: package, name: open-iscsi, ok: true, detail: installed, fix: ""}
kernel_module_states:
  description: For each requested kernel module, its state (loaded, builtin, loadable, missing) and the evidence.
  returned: always
  type: dict
  sample: {overlay: {state: builtin, detail: "built into kernel 6.1.0 (file system overlay in /proc/filesystems)"}}
"""

import os
import shutil
import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.redundant.kube.plugins.module_utils.preflight import checks


def _query_packages(module: AnsibleModule, wanted: list[str], manager: str) -> dict[str, bool]:
    if manager == "dpkg":
        # Exit status is non-zero when some package is unknown; the output still lists the known ones.
        out = module.run_command(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\n", *wanted])[1]
        return checks.parse_dpkg_query(out)
    out = module.run_command(["rpm", "-q", "--qf", "%{NAME}\n", *wanted])[1]
    return checks.parse_rpm_query(out, wanted)


def _systemctl(module: AnsibleModule, verb: str, unit: str) -> str:
    """First word systemctl prints for the unit; ``not-found`` when it only complains on stderr."""
    out = module.run_command(["systemctl", verb, unit])[1].strip()
    return out.splitlines()[0] if out else "not-found"


def _resolve(name: str) -> tuple[list[str], str]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return [], str(exc)
    return [str(info[4][0]) for info in infos], ""


def _free_bytes(path: str) -> int | None:
    return shutil.disk_usage(path).free if os.path.exists(path) else None


def _program_exists(program: str) -> bool:
    return os.path.isabs(program) and os.path.isfile(program) and os.access(program, os.X_OK)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "default": []},
            "services": {"type": "list", "elements": "str", "default": []},
            "kernel_modules": {"type": "list", "elements": "str", "default": []},
            "filesystems": {"type": "list", "elements": "str", "default": []},
            "dns_names": {"type": "list", "elements": "str", "default": []},
            "core_pattern": {"type": "str"},
            "free_disk": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "str", "required": True},
                    "min_free": {"type": "str", "required": True},
                },
            },
            "package_manager": {"type": "str", "choices": ["auto", "dpkg", "rpm"], "default": "auto"},
            "fail_on_error": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    minimums = []
    for i, entry in enumerate(p["free_disk"]):
        try:
            minimums.append((entry["path"], checks.parse_size(entry["min_free"])))
        except ValueError as exc:
            module.fail_json(msg=f"free_disk[{i}].min_free: {exc}")

    results: list[checks.CheckResult] = []
    if p["packages"]:
        manager = p["package_manager"]
        if manager == "auto":
            manager = "dpkg" if module.get_bin_path("dpkg-query") else "rpm"
        if not module.get_bin_path("dpkg-query" if manager == "dpkg" else "rpm"):
            module.fail_json(
                msg=f"package_manager: {manager} is not on this node; set package_manager to dpkg or rpm"
            )
        results += checks.check_packages(
            p["packages"], _query_packages(module, p["packages"], manager), manager
        )
    for unit in p["services"]:
        results.append(
            checks.check_service(
                unit, _systemctl(module, "is-active", unit), _systemctl(module, "is-enabled", unit)
            )
        )

    facts = checks.read_kernel_facts()
    module_states = {}
    for name in p["kernel_modules"]:
        state, detail = checks.kernel_module_state(name, facts)
        module_states[name] = {"state": state, "detail": detail}
        results.append(checks.check_kernel_module(name, facts))
    results += [checks.check_filesystem(fs, facts) for fs in p["filesystems"]]
    for name in p["dns_names"]:
        results.append(checks.check_dns(name, *_resolve(name)))
    if p["core_pattern"] is not None:
        with open("/proc/sys/kernel/core_pattern", encoding="utf-8") as handle:
            actual = handle.read().rstrip("\n")
        results.append(checks.check_core_pattern(p["core_pattern"], actual, _program_exists))
    results += [checks.check_free_disk(path, _free_bytes(path), minimum) for path, minimum in minimums]

    failed = [r.line() for r in results if not r.ok]
    output = {
        "changed": False,
        "passed": not failed,
        "failed_checks": failed,
        "checks": [r.as_dict() for r in results],
        "kernel_module_states": module_states,
        "msg": checks.summary(results),
    }
    if failed and p["fail_on_error"]:
        module.fail_json(**output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
