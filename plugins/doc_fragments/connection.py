# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The connection options every Kubernetes module of the collection shares
    # (plugins/module_utils/kube/client.py connection_argument_spec()).
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig.
      - Falls back to E(K8S_AUTH_KUBECONFIG), then E(KUBECONFIG), then C(~/.kube/config), then the in-cluster
        service account.
    type: path
  context:
    description: Context of the kubeconfig to use (E(K8S_AUTH_CONTEXT)).
    type: str
  host:
    description: API server URL, instead of a kubeconfig (E(K8S_AUTH_HOST)).
    type: str
  api_key:
    description: Bearer token (E(K8S_AUTH_API_KEY)).
    type: str
  username:
    description: Basic-auth user (E(K8S_AUTH_USERNAME)).
    type: str
  password:
    description: Basic-auth password (E(K8S_AUTH_PASSWORD)).
    type: str
  validate_certs:
    description: Verify the API server certificate (E(K8S_AUTH_VERIFY_SSL)).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description: CA bundle for the API server (E(K8S_AUTH_SSL_CA_CERT)).
    type: path
  client_cert:
    description: Client certificate (E(K8S_AUTH_CERT_FILE)).
    type: path
  client_key:
    description: Client key (E(K8S_AUTH_KEY_FILE)).
    type: path
  proxy:
    description: HTTP proxy URL (E(K8S_AUTH_PROXY)).
    type: str
notes:
  - Connection options can be set once for all modules of the collection with
    C(module_defaults) and the action group C(group/redundant.kube.k8s).
  - AWX/Tower's Kubernetes credential injects the E(K8S_AUTH_*) variables these options fall back to.
requirements:
  - kubernetes (Python client) >= 35
"""
