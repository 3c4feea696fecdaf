# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible side of the collection's Kubernetes modules: connection options, one-line failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (
    KubeError,
    api_client_from_params,
    connection_argument_spec,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources
from ansible_collections.redundant.kube.plugins.module_utils.kube.waiter import check_timeout


def kube_module(argument_spec: dict[str, Any], **kwargs: Any) -> AnsibleModule:
    """An AnsibleModule with the shared connection options added to argument_spec."""
    spec = dict(connection_argument_spec())
    spec.update(argument_spec)
    kwargs.setdefault("supports_check_mode", True)
    module = AnsibleModule(argument_spec=spec, **kwargs)
    if "wait_timeout" in spec and module.params.get("wait_timeout") is not None:
        try:
            check_timeout("wait_timeout", module.params["wait_timeout"])
        except KubeError as exc:
            module.fail_json(msg=str(exc))
    return module


def run_kube_module(
    module: AnsibleModule,
    body: Callable[[Resources | None], dict[str, Any]],
    connect: bool = True,
    errors: tuple[type[Exception], ...] = (),
) -> None:
    """Connect (unless the module works without a cluster this time), run body, exit with its result;
    a KubeError, or one of the capability's own `errors`, becomes one fail_json line.

    A module that waits retries API blips for as long as it would wait (wait_timeout); others a few times.
    Once connected, the result (failed or not) says how many requests were repeated: `retries`."""
    waits = module.params.get("wait", True) and module.params.get("wait_timeout")
    resources = None
    try:
        if connect:
            resources = Resources(api_client_from_params(module.params), retry_window=waits or 0)
        result = body(resources)
    except (KubeError, *errors) as exc:
        module.fail_json(msg=str(exc), **retries_of(resources))
    module.exit_json(**{**result, **retries_of(resources)})


def retries_of(resources: Resources | None) -> dict[str, int]:
    """The `retries` result of a module that talked to a cluster (none when it did not connect)."""
    return {} if resources is None else {"retries": resources.retries}
