# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by the modules that act on one application, as kubernetes.core's args_common.

Documented once in the doc fragment ``redundant.kube.app_target``."""

from __future__ import annotations

from typing import Any

# The application a module acts on: its name (app.kubernetes.io/instance) and namespace.
APP_TARGET_SPEC: dict[str, dict[str, Any]] = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
}

# How long a module waits for what it started (rollout, restarts, recovery), in seconds.
WAIT_TIMEOUT_SPEC: dict[str, dict[str, Any]] = {"wait_timeout": {"type": "int", "default": 300}}
