#!/usr/bin/python
# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: keystore
short_description: Java keystores (JCEKS, PKCS12) generated once in pure Python and kept in a Secret
version_added: 0.1.0
description:
  - Creates a Java keystore with AES secret keys and trusted certificates and stores it in a Kubernetes
    Secret, or in a file on the host the module runs on with O(dest). Neither Java nor keytool is needed.
  - Generated once, then kept. An existing keystore is read and kept as it is; aliases missing from it are
    added; a certificate whose content changed replaces its alias; a secret key is B(never) regenerated
    unless O(force_regenerate=true), because a new key makes everything encrypted with the old one
    unreadable. Entries already in the keystore that O(entries) does not name are kept untouched.
  - Entries are written exactly as Java's own C(JceKeyStore) and C(PKCS12KeyStore) (JDK 17) write them, and
    C(keytool -list) shows them with the right types and fingerprints. Existing keys are copied in their
    encrypted form, byte for byte; they are never re-encrypted when something else changes.
  - Java aliases are not case-sensitive and are stored in lower case; O(entries) that differ only in case
    are an error.
  - Any error (wrong store or key password, non-ASCII JCEKS key password, unsupported key size, malformed
    PEM, a private key given as certificate, conflicting aliases) is reported in one line before anything
    is written; the Secret or file is left untouched.
  - The result names every alias with its type, and for certificates the SHA-256 fingerprint, subject and
    expiry. Nothing derived from secret key bytes, and no password, is ever returned, logged or shown in
    a diff.
options:
  name:
    description:
      - Name of the Secret that holds the keystore.
      - Required unless O(dest) is given.
    type: str
  namespace:
    description: Namespace of the Secret. Required with O(name).
    type: str
  dest:
    description:
      - Write the keystore to this file on the host the module runs on (normally the controller) instead of
        a Secret. No cluster is contacted. The file is written with mode C(0600).
      - Mutually exclusive with O(name).
    type: path
  type:
    description:
      - Keystore type. C(jceks) is what midPoint expects; C(pkcs12) is Java's default type.
      - An existing keystore of the other type is an error; it is never converted.
    type: str
    choices: [jceks, pkcs12]
    default: jceks
  file_name:
    description:
      - Key of the Secret's data that holds the keystore, which is also the file name when the Secret is
        mounted as a volume.
      - Defaults to C(keystore.jceks) or C(keystore.p12) by O(type).
    type: str
  store_password:
    description:
      - Password of the keystore (keytool's C(-storepass)).
      - May be omitted when the Secret already holds it under O(store_password_key).
    type: str
  store_password_key:
    description:
      - Also publish the store password in the Secret under this data key, for applications that read it
        from a file (midPoint's C(MP_SET_midpoint_keystore_keyStorePassword_FILE) pattern).
      - Not available with O(dest).
    type: str
  entries:
    description:
      - Entries the keystore must hold. Secret keys are generated when their alias is missing; certificates
        are imported or replaced when their content differs.
      - The type of an entry is C(trusted_certificate) when O(entries[].certificate) or
        O(entries[].certificate_path) is given, else C(secret_key).
    type: list
    elements: dict
    default: []
    suboptions:
      alias:
        description:
          - Alias of the entry, stored in lower case.
          - A PEM with several certificates fills O(entries[].alias), C(<alias>-2), C(<alias>-3) and so on, in
            the order of the PEM. When such a PEM later holds fewer certificates, the trusted certificate
            entries past its end (C(<alias>-<n>)) are removed.
        type: str
        required: true
      type:
        description: Entry type; inferred when omitted.
        type: str
        choices: [secret_key, trusted_certificate]
      algorithm:
        description: Secret key algorithm.
        type: str
        choices: [AES]
        default: AES
      size:
        description: Secret key size in bits, one of 128, 192 or 256.
        type: int
        default: 256
      key_password:
        description:
          - Password of the secret key (keytool's C(-keypass)). Defaults to O(store_password).
          - For C(jceks) it must be printable ASCII, a limit of Java's PBEWithMD5AndTripleDES.
          - keytool's command line cannot give a PKCS12 key its own password (it uses the store password),
            but Java's KeyStore API can, and so can this module.
        type: str
      certificate:
        description: PEM text of one or more certificates.
        type: str
      certificate_path:
        description: Path of a PEM (one or more certificates) or DER certificate file on the host the module
          runs on.
        type: path
  state:
    description:
      - V(present) makes sure the keystore holds O(entries).
      - V(absent) deletes the Secret (or the O(dest) file) with the keystore in it, keys included; with
        O(backup=true) a copy is kept first.
    type: str
    choices: [present, absent]
    default: present
  force_regenerate:
    description:
      - Replace the secret keys named in O(entries) with new random keys on every run, and let a
        certificate replace a key of the same alias. Everything encrypted with the old keys becomes
        unreadable. Set it for one run, then remove it.
    type: bool
    default: false
  backup:
    description:
      - Before anything in an existing keystore is replaced, regenerated or removed (or the keystore is
        deleted), keep the previous content.
      - For a Secret, in a Secret named C(<name>-backup-<10 hex digits of its content digest>) in the same
        namespace, holding the previous data unchanged. For O(dest), in a timestamped copy of the file next
        to it.
      - Adding entries is not a replacement and makes no backup.
    type: bool
    default: true
extends_documentation_fragment:
  - redundant.kube.connection
attributes:
  check_mode:
    support: full
    description: Computes the result without writing; a Secret write is validated by a server-side dry run.
  diff_mode:
    support: full
    description: Aliases with types, certificate fingerprints and creation dates; never key material.
notes:
  - The connection options are ignored with O(dest).
requirements:
  - cryptography >= 42 (on the host the module runs on)
seealso:
  - name: keytool
    description: Java's keystore tool, which reads what this module writes.
    link: https://docs.oracle.com/en/java/javase/17/docs/specs/man/keytool.html
author:
  - redundant.kube contributors (@redundant-kube)
"""

EXAMPLES = r"""
# midPoint cluster: the equivalent of
#   keytool -genseckey -alias default -keystore keystore.jceks -storetype jceks -keyalg AES -keysize 128
#           -storepass changeit -keypass midpoint
#   kubectl create secret generic -n mp-demo mp-demo-keystore --from-file=keystore.jceks --from-literal=keystore=changeit
- name: Keystore shared by every midPoint node
  redundant.kube.keystore:
    name: mp-demo-keystore
    namespace: mp-demo
    type: jceks
    store_password: "{{ vault_midpoint_keystore_password }}"
    store_password_key: keystore
    entries:
      - alias: default
        size: 128
        key_password: midpoint

- name: Later, trust the LDAP server's CA chain (the key stays as it is)
  redundant.kube.keystore:
    name: mp-demo-keystore
    namespace: mp-demo
    store_password_key: keystore   # the store password is read from the Secret
    entries:
      - alias: default
        size: 128
        key_password: midpoint
      - alias: ldap-ca   # a PEM with two certificates: aliases ldap-ca and ldap-ca-2
        certificate: "{{ lookup('ansible.builtin.file', 'ldap-ca-chain.pem') }}"

- name: A PKCS12 keystore as a file on the controller, no cluster involved
  redundant.kube.keystore:
    dest: /srv/secrets/app.p12
    type: pkcs12
    store_password: "{{ vault_app_store_password }}"
    entries:
      - alias: data-key
        size: 256
      - alias: corp-root
        certificate_path: /etc/ssl/certs/corp-root.pem   # read where the module runs
"""

RETURN = r"""
entries:
  description:
    - Every alias of the keystore after the run (and those removed by it), with what happened to it.
    - C(action) is C(kept), C(added), C(replaced), C(regenerated) or C(removed).
    - Secret keys report C(algorithm) and C(size) (null for keys whose password was not given, which are
      kept locked); nothing derived from their bytes. Certificates report C(sha256_fingerprint) in keytool's
      notation, C(subject), C(issuer), C(serial_number) and C(not_after).
  returned: always
  type: list
  elements: dict
  sample:
    - alias: default
      type: secret_key
      algorithm: AES
      size: 128
      created: "2026-11-22T08:00:00.123000Z"
      action: kept
    - alias: ldap-ca
      type: trusted_certificate
      sha256_fingerprint: "15:43:FB:8D:...:EF:E8:6C"
      subject: CN=Corp Root CA
      issuer: CN=Corp Root CA
      serial_number: 7b3a943da1a9
      not_after: "2030-01-01T00:00:00Z"
      created: "2026-11-22T08:05:00.456000Z"
      action: added
type:
  description: Keystore type.
  returned: always
  type: str
  sample: jceks
file_name:
  description: Data key of the Secret that holds the keystore.
  returned: when O(name) is given
  type: str
  sample: keystore.jceks
secret:
  description: Namespace and name of the Secret.
  returned: when O(name) is given
  type: dict
  sample: {namespace: mp-demo, name: mp-demo-keystore}
keystore_path:
  description: The keystore file (O(dest)).
  returned: when O(dest) is given
  type: str
  sample: /srv/secrets/app.p12
backup:
  description: Name of the backup Secret, or path of the backup file, when one was made.
  returned: when a backup was made
  type: str
  sample: mp-demo-keystore-backup-3f9a0c12de
retries:
  description:
    - How many requests to the API server were repeated after a transient failure (connection refused or
      reset, the server restarting, answers 429, 503 or 504), with exponential backoff - up to 5 times per
      request. V(0) on a run without a blip.
  returned: when the keystore is a Secret (O(name)), also when the module fails
  type: int
  sample: 0
"""

from typing import Any

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import KeystoreError
from ansible_collections.redundant.kube.plugins.module_utils.keystore.pbe import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.runtime import (
    FileTarget,
    SecretTarget,
    Target,
    reconcile_keystore,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import DEFAULT_FILE_NAMES
from ansible_collections.redundant.kube.plugins.module_utils.kube.ansible_module import (
    kube_module,
    run_kube_module,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources

ENTRY_OPTIONS = {
    "alias": {"type": "str", "required": True},
    "type": {"type": "str", "choices": ["secret_key", "trusted_certificate"]},
    "algorithm": {"type": "str", "choices": ["AES"], "default": "AES"},
    "size": {"type": "int", "default": 256},
    "key_password": {"type": "str", "no_log": True},
    "certificate": {"type": "str"},
    "certificate_path": {"type": "path"},
}

ARGUMENT_SPEC = {
    "name": {"type": "str"},
    "namespace": {"type": "str"},
    "dest": {"type": "path"},
    "type": {"type": "str", "choices": ["jceks", "pkcs12"], "default": "jceks"},
    "file_name": {"type": "str"},
    "store_password": {"type": "str", "no_log": True},
    "store_password_key": {"type": "str", "no_log": False},
    "entries": {"type": "list", "elements": "dict", "default": [], "options": ENTRY_OPTIONS},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "force_regenerate": {"type": "bool", "default": False},
    "backup": {"type": "bool", "default": True},
}


def main() -> None:
    module = kube_module(
        ARGUMENT_SPEC,
        mutually_exclusive=[("name", "dest"), ("dest", "store_password_key")],
        required_one_of=[("name", "dest")],
        required_by={"name": "namespace"},
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(
            msg=missing_required_lib("cryptography"), exception=to_native(CRYPTOGRAPHY_IMPORT_ERROR)
        )
    p = module.params
    file_name = p["file_name"] or DEFAULT_FILE_NAMES[p["type"]]

    def body(resources: Resources | None) -> dict[str, Any]:
        if resources is None:
            target: Target = FileTarget(p["dest"], module.check_mode, module.atomic_move, module.backup_local)
        else:
            target = SecretTarget(
                resources, p["namespace"], p["name"], file_name, p["store_password_key"], module.check_mode
            )
        return reconcile_keystore(p, target, module._diff)

    run_kube_module(module, body, connect=not p["dest"], errors=(KeystoreError,))


if __name__ == "__main__":
    main()
