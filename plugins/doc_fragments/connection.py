# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The connection options every Kubernetes module of the collection shares
    # (plugins/module_utils/kube/client.py connection_argument_spec()).
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig, or several joined by V(:) (merged as C(kubectl) merges E(KUBECONFIG)), or the
        kubeconfig's content as a dict.
      - Falls back to E(K8S_AUTH_KUBECONFIG), then E(KUBECONFIG) (its files merged, missing ones skipped),
        then C(~/.kube/config), then the in-cluster service account.
    type: raw
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
    description: Verify the API server certificate (E(K8S_AUTH_VALIDATE_CERTS) or E(K8S_AUTH_VERIFY_SSL)).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description: CA bundle for the API server (E(K8S_AUTH_CA_CERT) or E(K8S_AUTH_SSL_CA_CERT)).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description: Client certificate (E(K8S_AUTH_CLIENT_CERT) or E(K8S_AUTH_CERT_FILE)).
    type: path
    aliases: [cert_file]
  client_key:
    description: Client key (E(K8S_AUTH_CLIENT_KEY) or E(K8S_AUTH_KEY_FILE)).
    type: path
    aliases: [key_file]
  proxy:
    description: HTTP proxy URL (E(K8S_AUTH_PROXY)).
    type: str
  no_proxy:
    description: Comma-separated hosts, domains and networks reached without the proxy (E(K8S_AUTH_NO_PROXY)).
    type: str
  proxy_headers:
    description: Headers for the HTTP proxy.
    type: dict
    suboptions:
      proxy_basic_auth:
        description: V(user:password) for the proxy (E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH)).
        type: str
      basic_auth:
        description: V(user:password) basic authentication header (E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH)).
        type: str
      user_agent:
        description: User-Agent header, such as V(foo/1.0) (E(K8S_AUTH_PROXY_HEADERS_USER_AGENT)).
        type: str
  persist_config:
    description:
      - Write tokens the kubernetes client refreshes (OIDC and similar) back to the kubeconfig file
        (E(K8S_AUTH_PERSIST_CONFIG)). Default V(false).
    type: bool
  impersonate_user:
    description: User to act as, for every request (E(K8S_AUTH_IMPERSONATE_USER)); needs the C(impersonate) verb.
    type: str
  impersonate_groups:
    description:
      - Groups to act as, with O(impersonate_user) (E(K8S_AUTH_IMPERSONATE_GROUPS), comma-separated).
    type: list
    elements: str
notes:
  - Connection options can be set once for the modules of this collection and of kubernetes.core with
    C(module_defaults) and the action group C(group/redundant.kube.k8s), which extends C(kubernetes.core.k8s).
  - AWX/Tower's Kubernetes credential injects the E(K8S_AUTH_*) variables these options fall back to.
requirements:
  - kubernetes (Python client) >= 24.2.0
"""
