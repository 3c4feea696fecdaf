#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: controller_checksums
short_description: Verify files on the controller against their SHA-256 before they are copied to hosts
version_added: 0.1.0
description:
  - Hashes each file on the Ansible controller and fails, naming the variable the checksum came from, when a file
    is missing or its digest differs. The air-gapped installs of the C(k3s) and C(kubeadm) roles use it so that a
    wrong binary or image tarball fails before any host is touched.
  - Runs entirely on the controller (an action plugin); never connects to the host. Each file is hashed once per
    playbook run, however many hosts ask.
options:
  files:
    description: The files to verify.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Path on the controller.
        type: path
        required: true
        aliases: [src]
      checksum:
        description: Expected digest as C(sha256:<64 hex digits>).
        type: str
        required: true
      variable:
        description: Name of the variable the checksum came from, for the failure message.
        type: str
        required: true
attributes:
  check_mode:
    support: full
    description: Only reads files on the controller.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
  action:
    support: full
    description: Implemented as an action plugin that runs on the controller.
author:
  - redundant.kube contributors (@redundant-kube)
"""

EXAMPLES = r"""
- name: Verify the air-gapped k3s binary before copying it
  redundant.kube.controller_checksums:
    files:
      - path: /srv/airgap/k3s
        checksum: "sha256:{{ k3s_sha256 }}"
        variable: k3s_binary_checksum
"""

RETURN = r"""
digests:
  description: The SHA-256 of each file, by path.
  returned: always
  type: dict
  sample: {"/srv/airgap/k3s": "sha256:4f1c..."}
"""
