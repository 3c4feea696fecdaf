# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument_spec of redundant.kube.app, shared by the module and the model's tests.

One definition of every option, type and default: the module hands it to AnsibleModule, the unit
tests run the same spec through Ansible's ArgumentSpecValidator, so both see identical parameters.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.kube.args_common import (
    APP_TARGET_SPEC,
    WAIT_TIMEOUT_SPEC,
)

TOPOLOGIES = ("pair", "single", "cluster")
ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")

_PROBE = {
    "type": "dict",
    "options": {
        "exec": {"type": "list", "elements": "str"},
        "http_get": {
            "type": "dict",
            "options": {
                "path": {"type": "str", "default": "/"},
                "port": {"type": "raw", "required": True},
                "scheme": {"type": "str", "choices": ["HTTP", "HTTPS"], "default": "HTTP"},
            },
        },
        "tcp_socket": {"type": "dict", "options": {"port": {"type": "raw", "required": True}}},
        "initial_delay_seconds": {"type": "int"},
        "period_seconds": {"type": "int"},
        "timeout_seconds": {"type": "int"},
        "failure_threshold": {"type": "int"},
        "success_threshold": {"type": "int"},
    },
    "mutually_exclusive": [["exec", "http_get", "tcp_socket"]],
    "required_one_of": [["exec", "http_get", "tcp_socket"]],
}

_CONTAINER_OPTIONS: dict[str, Any] = {
    "image": {"type": "str", "required": True},
    "image_pull_policy": {
        "type": "str",
        "choices": ["Always", "IfNotPresent", "Never"],
        "default": "IfNotPresent",
    },
    "command": {"type": "list", "elements": "str"},
    "args": {"type": "list", "elements": "str"},
    "env": {"type": "dict", "default": {}},
    "ports": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "container_port": {"type": "int", "required": True},
            "protocol": {"type": "str", "choices": ["TCP", "UDP", "SCTP"], "default": "TCP"},
        },
    },
    "resources": {"type": "dict"},
    "capabilities": {"type": "list", "elements": "str", "default": []},
    "privileged": {"type": "bool", "default": False},
    "devices": {"type": "list", "elements": "path", "default": []},
    "security_context": {"type": "dict"},
    "liveness_probe": _PROBE,
    "readiness_probe": _PROBE,
    "startup_probe": _PROBE,
}

_SERVER = {"type": "dict", "options": {"name": {"type": "str", "default": "server"}, **_CONTAINER_OPTIONS}}
_COMPANION = {
    "type": "list",
    "elements": "dict",
    "default": [],
    "options": {"name": {"type": "str", "required": True}, **_CONTAINER_OPTIONS},
}
_PER_SIDE = {
    "type": "list",
    "elements": "dict",
    "default": [],
    "options": {
        "name": {"type": "str", "required": True},
        **_CONTAINER_OPTIONS,
        "instances": {
            "type": "dict",
            "default": {"a": 1, "b": 2},
            "options": {"a": {"type": "int", "default": 1}, "b": {"type": "int", "default": 2}},
        },
        "instance_env": {"type": "str"},
        "roles": {
            "type": "dict",
            "default": {"a": "active", "b": "passive"},
            "options": {
                "a": {"type": "str", "choices": ["active", "passive"], "default": "active"},
                "b": {"type": "str", "choices": ["active", "passive"], "default": "passive"},
            },
        },
    },
}

_WORKLOADS = {"type": "list", "elements": "str"}

_VOLUMES = {
    "type": "list",
    "elements": "dict",
    "default": [],
    "options": {
        "name": {"type": "str", "required": True},
        "mount_path": {"type": "str", "required": True},
        "sub_path": {"type": "str"},
        "read_only": {"type": "bool", "default": False},
        "size": {"type": "str"},
        "storage_class": {"type": "str"},
        "access_mode": {"type": "str", "choices": list(ACCESS_MODES), "default": "ReadWriteOnce"},
        "nfs": {
            "type": "dict",
            "options": {
                "server": {"type": "str", "required": True},
                "path": {"type": "str", "required": True},
            },
        },
        "host_path": {
            "type": "dict",
            "options": {
                "path": {"type": "str", "required": True},
                "type": {
                    "type": "str",
                    "choices": ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File"],
                    "default": "DirectoryOrCreate",
                },
            },
        },
        "empty_dir": {"type": "bool", "default": False},
        "secret": {"type": "str", "no_log": False},
        "workloads": _WORKLOADS,
    },
    "mutually_exclusive": [["size", "nfs", "host_path", "empty_dir", "secret"]],
}

# Processes run to completion, in order, before a workload's container starts (schema set-up, keystore
# preparation); they see the workload's volumes only where volume_mounts says.
_INIT_CONTAINERS = {
    "type": "list",
    "elements": "dict",
    "default": [],
    "options": {
        "name": {"type": "str", "required": True},
        **{
            key: _CONTAINER_OPTIONS[key]
            for key in (
                "image",
                "image_pull_policy",
                "command",
                "args",
                "env",
                "resources",
                "security_context",
            )
        },
        "volume_mounts": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "volume": {"type": "str", "required": True},
                "mount_path": {"type": "str", "required": True},
                "sub_path": {"type": "str"},
                "read_only": {"type": "bool", "default": False},
            },
        },
        "workloads": _WORKLOADS,
    },
}

_EXTERNAL_MOUNT = {
    "type": "dict",
    "options": {
        "secret": {"type": "str", "no_log": False},
        "config_map": {"type": "str"},
        "mount_path": {"type": "str", "required": True},
        "key": {"type": "str", "no_log": False},
        "workloads": _WORKLOADS,
    },
    "mutually_exclusive": [["secret", "config_map"]],
    "required_one_of": [["secret", "config_map"]],
}

# Options whose names look secret but hold only names of objects ("no_log": False tells Ansible so);
# no option of this module carries a secret value itself.
APP_ARGUMENT_SPEC: dict[str, Any] = {
    **APP_TARGET_SPEC,
    "state": {"type": "str", "choices": ["present", "absent", "rendered"], "default": "present"},
    "dest": {"type": "path"},
    "topology": {"type": "str", "choices": list(TOPOLOGIES)},
    "topology_key": {"type": "str", "default": "kubernetes.io/hostname", "no_log": False},
    "replicas": {"type": "int", "default": 3},
    "server": _SERVER,
    "companions": _COMPANION,
    "per_side": _PER_SIDE,
    "init_containers": _INIT_CONTAINERS,
    "volumes": _VOLUMES,
    "core_dumps": {
        "type": "dict",
        "options": {
            "core_pattern": {"type": "str", "required": True},
            "host_path": {"type": "str", "default": "/var/crash/redundant-kube"},
            "workloads": _WORKLOADS,
        },
    },
    "active_probe": {
        "type": "dict",
        "options": {
            "type": {"type": "str", "choices": ["label", "annotation", "exec", "http"], "required": True},
            "key": {"type": "str", "default": "redundant.kube/active", "no_log": False},
            "value": {"type": "str", "default": "true"},
            "command": {"type": "list", "elements": "str"},
            "path": {"type": "str", "default": "/"},
            "port": {"type": "int"},
            "scheme": {"type": "str", "choices": ["http", "https"], "default": "http"},
            "via": {"type": "str", "choices": ["pod_ip", "api_server"], "default": "pod_ip"},
        },
        "required_if": [["type", "exec", ["command"]], ["type", "http", ["port"]]],
    },
    "config_files": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "path": {"type": "str", "required": True},
            "content": {"type": "str", "required": True},
            "workloads": _WORKLOADS,
        },
    },
    "odbc": {
        "type": "dict",
        "options": {
            "path": {"type": "str", "default": "/config/odbc/odbc.ini"},
            "dsns": {"type": "dict", "required": True},
            "workloads": _WORKLOADS,
        },
    },
    "env_from_secrets": {"type": "list", "elements": "str", "default": [], "no_log": False},
    "services": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str"},
            "type": {"type": "str", "choices": list(SERVICE_TYPES), "default": "ClusterIP"},
            "ports": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "port": {"type": "int", "required": True},
                    "target_port": {"type": "raw"},
                    "node_port": {"type": "int"},
                    "protocol": {"type": "str", "choices": ["TCP", "UDP", "SCTP"], "default": "TCP"},
                },
            },
            "session_affinity": {"type": "bool", "default": False},
            "session_affinity_timeout": {"type": "int", "default": 10800},
            "per_side": {"type": "bool", "default": False},
            "workload": {"type": "str", "default": "server"},  # "server" also names a renamed server
        },
    },
    "egress": {
        "type": "dict",
        "options": {
            "allow": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "cidr": {"type": "str", "required": True},
                    "ports": {"type": "list", "elements": "int", "default": []},
                    "protocol": {"type": "str", "choices": ["TCP", "UDP", "SCTP"], "default": "TCP"},
                },
            },
            "dns": {"type": "bool", "default": True},
        },
    },
    "keystore": {**_EXTERNAL_MOUNT, "no_log": False},
    "license": _EXTERNAL_MOUNT,
    "node_selector": {"type": "dict", "default": {}},
    "tolerations": {"type": "list", "elements": "dict", "default": []},
    "failover_toleration_seconds": {"type": "int", "default": 30},
    "priority_class": {"type": "str"},
    "image_pull_secrets": {"type": "list", "elements": "str", "default": [], "no_log": False},
    "labels": {"type": "dict", "default": {}},
    "annotations": {"type": "dict", "default": {}},
    "ingress": {
        "type": "dict",
        "options": {
            "host": {"type": "str", "required": True},
            "paths": {"type": "list", "elements": "str", "default": ["/"]},
            "service": {"type": "str"},
            "port": {"type": "raw"},
            "tls_secret": {"type": "str", "no_log": False},
            "class_name": {"type": "str"},
            "cookie_affinity": {"type": "bool", "default": False},
            "cookie_name": {"type": "str"},
            "cookie_max_age": {"type": "int", "default": 172800},
        },
    },
    "member_id_env": {"type": "str", "default": "MEMBER_ID"},
    "side_env": {"type": "str", "default": "REDUNDANT_KUBE_SIDE"},
    "wait": {"type": "bool", "default": True},
    **WAIT_TIMEOUT_SPEC,
    "delete_volumes": {"type": "bool", "default": False},
}

APP_REQUIRED_IF = [
    ["state", "present", ["topology", "server"]],
    ["state", "rendered", ["topology", "server", "dest"]],
]
