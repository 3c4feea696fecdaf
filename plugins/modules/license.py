#!/usr/bin/python
# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: license
short_description: Push a license into a ConfigMap or Secret and restart only what uses it, one side at a time
version_added: "0.1.0"
description:
  - Stores a license file under one key of a ConfigMap or Secret (server-side apply; other keys and labels of
    the object, e.g. those of a Helm release, stay as they are). The namespace is created when missing.
  - Only when the stored content changed, restarts the workloads that use it, one workload at a time, waiting
    for each to be rolled out and Ready before the next. For a V(pair) app the passive side goes first and the
    active side last; the active side is read at run time through the app's C(active_probe), because an
    application such as D2000 picks its active (HOT) server itself. A V(cluster) app's StatefulSet restarts
    one member at a time.
  - With O(restart_method=template) a workload restarts because its pod-template checksum annotation changes
    to the object's new content digest. It is the same annotation key and digest M(redundant.kube.app)
    writes for the objects it mounts, so a later unchanged C(app) run reports no change and restarts nothing.
  - A consumer that still runs an older license (an earlier push stopped on a failure, or ran with
    O(restart=none)) is restarted by the next run even when the content is unchanged; when every consumer is
    current, an unchanged push reports C(changed=false) and restarts nothing.
  - If a restarted workload does not become Ready within O(wait_timeout), the module stops, leaves every
    workload not yet restarted (in particular the other side) untouched, and fails naming the workload and the
    reason the cluster gives. With O(rollback=true) it first puts the previous license back and restarts that
    side again.
  - Before restarting a side, the module checks that the other side is rolled out and Ready; if not, it stops
    instead of taking the whole application down.
  - Bad input (missing O(src), empty content, content failing O(validate), an invalid O(key)) fails before
    anything is sent to the cluster.
options:
  name:
    description: Name of the ConfigMap or Secret that holds the license.
    type: str
    required: true
  namespace:
    description: Namespace of the object and of its consumers; created when missing.
    type: str
    default: default
  kind:
    description: Kind of the object. Use V(Secret) when the license must not be readable by everyone who can read
      ConfigMaps.
    type: str
    choices: [ConfigMap, Secret]
    default: ConfigMap
  key:
    description: File name inside the object, e.g. C(LicenceRun.code) (D2000) or C(dolphindb.lic) (DolphinDB).
    type: str
    required: true
  src:
    description:
      - Path of the license file on the host that runs the module (the controller for C(hosts=localhost)).
        Read as bytes; content that is not UTF-8 is stored in a ConfigMap's C(binaryData).
      - Exactly one of O(src), O(content), O(b64_content).
    type: path
  content:
    description: The license as text.
    type: str
  b64_content:
    description: A binary license, base64-encoded (e.g. C("{{ lookup('file', 'lic.b64') }}")).
    type: str
  consumers:
    description:
      - The workloads that use the license. Required with O(restart=rolling).
      - Matching nothing is not an error (the site playbook stores the license before the app exists); the
        license is stored, nothing restarts and the result says so, unless O(require_consumers=true).
    type: dict
    suboptions:
      app:
        description: Name of an app deployed by M(redundant.kube.app); its workloads whose pod template uses the
          object (volume, projected volume, env, envFrom, or its checksum annotation) are the consumers.
        type: str
      selector:
        description: Label selector (e.g. C(app=ddb-test1)) for Deployments, StatefulSets and DaemonSets the
          collection did not create, such as a Helm release's; every workload it matches is a consumer. Its
          syntax is checked as the API server parses it before anything is stored, also when the namespace does
          not exist yet.
        type: str
  require_consumers:
    description: Fail, before anything is written, when O(consumers) match no workload that uses the object.
    type: bool
    default: false
  restart:
    description:
      - V(rolling) restarts the consumers that do not run the stored license yet; V(none) only stores it.
      - After V(none), the next M(redundant.kube.app) run restarts every consumer at once; run this module
        with V(rolling) instead to restart them one side at a time.
    type: str
    choices: [rolling, none]
    default: rolling
  restart_method:
    description:
      - V(template) changes the pod-template checksum annotation; the workload's controller rolls the pods.
      - V(delete_pods) deletes one pod at a time and waits for its replacement to be Ready, for workloads whose
        operator would revert a template change (the procedure DolphinDB's deployment guide documents). Pods
        created before the license was last written count as running the old license.
    type: str
    choices: [template, delete_pods]
    default: template
  order:
    description:
      - V(passive_first) restarts the passive side before the active one. The active side is found when the
        module starts, with the app's C(active_probe) as M(redundant.kube.app_info) uses it - the Ready server pod
        that carries its label or annotation, or that answers its exec command (through the API server; refused
        without C(get) and C(create) on C(pods/exec), an error naming them) or HTTP GET (see
        O(redundant.kube.app#module:active_probe.via)). An app without C(active_probe) needs V(a_first) or
        V(b_first). Both sides active is an error; no side active restarts side A first, with a warning.
      - V(a_first)/V(b_first) fix the order of the sides.
      - Workloads without a side (single, cluster, or selected by labels) restart one at a time by name.
    type: str
    choices: [passive_first, a_first, b_first]
    default: passive_first
  wait_timeout:
    description: Seconds each workload may take to be rolled out and Ready after its restart; more than 0.
    type: int
    default: 300
  rollback:
    description: When a restarted workload does not become Ready, put the previous license back and restart again
      what this run restarted on that side. The module still fails.
    type: bool
    default: false
  validate:
    description: Checks the content must pass before anything is sent to the cluster.
    type: dict
    suboptions:
      regex:
        description: A regular expression the content must contain (Python syntax, multi-line).
        type: str
      max_size:
        description: Largest accepted license, in bytes.
        type: int
      expires:
        description: The license's expiry date (in O(validate.expiry_format)); an expired license is refused.
        type: str
      expiry_regex:
        description: A regular expression with one capture group that finds the expiry date in the content.
        type: str
      expiry_format:
        description: C(strptime) format of the expiry date.
        type: str
        default: "%Y-%m-%d"
      min_days_left:
        description: Refuse a license that expires in fewer days than this.
        type: int
        default: 0
extends_documentation_fragment:
  - redundant.kube.connection
attributes:
  check_mode:
    support: full
    description: Server dry-run of the object; reports the new digest and the restarts that would happen.
  diff_mode:
    support: full
    description: Shows the object's content digest, the license's SHA-256 and its size before and after, never the
      license itself.
notes:
  - O(content) and O(b64_content) are never logged. Use O(kind=Secret) to keep the license out of ConfigMaps.
  - The checksum annotation key is C(checksum.redundant.kube/<kind>.<name>), its value the SHA-256 of the
    object's C(data) and C(binaryData).
author:
  - redundant.kube contributors (@redundant-kube)
"""

EXAMPLES = r"""
- name: D2000 - push LicenceRun.code, restart the passive side, then the HOT one
  redundant.kube.license:
    name: d2000-license
    namespace: scada
    key: LicenceRun.code
    src: files/LicenceRun.code
    consumers: {app: d2000}
    wait_timeout: 600
    rollback: true

- name: DolphinDB - the operator's ConfigMap; delete the cluster's pods one at a time, as the vendor documents
  redundant.kube.license:
    name: ddb-test1
    namespace: dolphindb
    key: dolphindb.lic
    src: /srv/licenses/dolphindb.lic
    consumers: {selector: "app=ddb-test1"}
    restart_method: delete_pods
    validate:
      max_size: 65536
      min_days_left: 14
      expiry_regex: 'expiration[:=]\s*(\d{4}-\d{2}-\d{2})'

- name: Store a binary license as a Secret before the app exists (site playbook order)
  redundant.kube.license:
    name: iris-key
    namespace: iris
    kind: Secret
    key: iris.key
    b64_content: "{{ vault_iris_key_b64 }}"
    consumers: {app: iris}
"""

RETURN = r"""
license:
  description: The object and its license after the run, as digests (never the content).
  returned: always
  type: dict
  sample:
    kind: ConfigMap
    name: d2000-license
    namespace: scada
    key: LicenceRun.code
    action: updated
    digest: 6d0b5c1f0c1b9f4e9f1f6f0a8e3f9b6a2c3d4e5f60718293a4b5c6d7e8f90a1b
    previous_digest: 0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
    sha256: 3f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
    size: 412
annotation:
  description: The pod-template checksum annotation key shared with M(redundant.kube.app).
  returned: always
  type: str
  sample: checksum.redundant.kube/configmap.d2000-license
consumers:
  description: Every workload found that uses the license.
  returned: always
  type: list
  elements: dict
  sample: [{kind: Deployment, name: d2000-server-a, side: a}, {kind: Deployment, name: d2000-server-b, side: b}]
active_side:
  description: The side found active at run time (V(passive_first) with two sides to restart), else null.
  returned: always
  type: str
  sample: a
restart_plan:
  description: Consumers to restart, in order (in check mode, what would restart).
  returned: always
  type: list
  elements: dict
  sample: [{kind: Deployment, name: d2000-server-b, side: b, method: template}]
restarted:
  description: Consumers restarted and Ready again, in the order it happened.
  returned: always
  type: list
  elements: dict
failed_workload:
  description: The consumer that did not become Ready.
  returned: failed
  type: dict
not_restarted:
  description: Consumers left untouched because the rollout stopped.
  returned: failed
  type: list
  elements: str
rollback:
  description: What O(rollback=true) did.
  returned: failed and rollback
  type: str
  sample: "rolled back: previous license restored in ConfigMap scada/d2000-license, restarted again and Ready: ..."
retries:
  description:
    - How many requests to the API server were repeated after a transient failure (connection refused or
      reset, the server restarting, answers 429, 503 or 504), with exponential backoff - for up to
      O(wait_timeout) seconds per request. V(0) on a run without a blip.
  returned: once the module has connected, also when the push fails
  type: int
  sample: 0
"""

import datetime

from ansible_collections.redundant.kube.plugins.module_utils.kube.ansible_module import (
    kube_module,
    retries_of,
    run_kube_module,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.args_common import WAIT_TIMEOUT_SPEC
from ansible_collections.redundant.kube.plugins.module_utils.license.rules import (
    METHODS,
    ORDERS,
    LicenseError,
    Validation,
    check_key,
    check_selector,
    license_payload,
    stored_entry,
    validate_payload,
)
from ansible_collections.redundant.kube.plugins.module_utils.license.runtime import (
    LicenseRequest,
    RolloutError,
    push_license,
)

SOURCES = ["src", "content", "b64_content"]

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
    "kind": {"type": "str", "choices": ["ConfigMap", "Secret"], "default": "ConfigMap"},
    "key": {"type": "str", "required": True, "no_log": False},
    "src": {"type": "path"},
    "content": {"type": "str", "no_log": True},
    "b64_content": {"type": "str", "no_log": True},
    "consumers": {
        "type": "dict",
        "options": {"app": {"type": "str"}, "selector": {"type": "str"}},
        "mutually_exclusive": [["app", "selector"]],
        "required_one_of": [["app", "selector"]],
    },
    "require_consumers": {"type": "bool", "default": False},
    "restart": {"type": "str", "choices": ["rolling", "none"], "default": "rolling"},
    "restart_method": {"type": "str", "choices": list(METHODS), "default": "template"},
    "order": {"type": "str", "choices": list(ORDERS), "default": "passive_first"},
    **WAIT_TIMEOUT_SPEC,
    "rollback": {"type": "bool", "default": False},
    "validate": {
        "type": "dict",
        "options": {
            "regex": {"type": "str"},
            "max_size": {"type": "int"},
            "expires": {"type": "str"},
            "expiry_regex": {"type": "str"},
            "expiry_format": {"type": "str", "default": "%Y-%m-%d"},
            "min_days_left": {"type": "int", "default": 0},
        },
        "mutually_exclusive": [["expires", "expiry_regex"]],
    },
}


def read_src(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise LicenseError(
            f"src: cannot read {path} ({exc.strerror}): give the path of the license file"
        ) from None


def build_request(params):
    """Content checks and the request, before any connection to the cluster. Raises LicenseError."""
    src_bytes = read_src(params["src"]) if params["src"] else None
    payload, binary = license_payload(params["content"], params["b64_content"], src_bytes)
    check_key(params["kind"], params["key"])
    entry = stored_entry(params["kind"], payload, binary)
    validate_payload(payload, Validation(**(params["validate"] or {})), datetime.date.today(), len(entry[1]))
    consumers = params["consumers"] or {}
    if consumers.get("selector") is not None:
        check_selector("consumers.selector", consumers["selector"])
    return LicenseRequest(
        kind=params["kind"],
        name=params["name"],
        namespace=params["namespace"],
        key=params["key"],
        entry=entry,
        app=consumers.get("app"),
        selector=consumers.get("selector"),
        require_consumers=params["require_consumers"],
        restart=params["restart"],
        method=params["restart_method"],
        order=params["order"],
        timeout=params["wait_timeout"],
        rollback=params["rollback"],
    )


def main():
    module = kube_module(
        ARGUMENT_SPEC,
        mutually_exclusive=[SOURCES],
        required_one_of=[SOURCES],
        required_if=[["restart", "rolling", ["consumers"]]],
    )
    try:
        request = build_request(module.params)
    except LicenseError as exc:
        module.fail_json(msg=str(exc))

    def warned(result):
        for warning in result.pop("warnings"):
            module.warn(warning)
        return result

    def push(resources):
        try:
            return warned(push_license(resources, request, module.check_mode, module._diff))
        except RolloutError as exc:
            module.fail_json(msg=str(exc), **warned(exc.result), **retries_of(resources))

    run_kube_module(module, push)


if __name__ == "__main__":
    main()
