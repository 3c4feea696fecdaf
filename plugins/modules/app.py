#!/usr/bin/python
# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: app
short_description: Deploy, upgrade or remove a redundant stateful application on Kubernetes in one task
version_added: "0.1.0"
description:
  - Renders a whole application from one spec into Kubernetes objects and applies them in one call with
    server-side apply (field manager C(redundant.kube)). Three topologies.
  - V(pair) - servers A and B with B(required) pod anti-affinity on O(topology_key), every companion its own
    Deployment with required pod affinity to its side's server, per-side singletons (instance 1 beside A,
    2 beside B) with role labels, and a PodDisruptionBudget keeping one server up during a drain.
  - V(single) - one replica, C(strategy=Recreate), failover tolerations for C(node.kubernetes.io/not-ready)
    and C(node.kubernetes.io/unreachable) with a short C(tolerationSeconds).
  - V(cluster) - a StatefulSet of O(replicas) with a headless Service C(<name>-members), the member identity
    from the pod name (O(member_id_env)), spread across O(topology_key).
  - Every object is validated with a server dry-run before any is written; if the server rejects an object
    while applying, what this run wrote is rolled back (the namespace too, when this run created it). Check mode
    stops after the dry-run.
  - Before any of that, what can be checked without a cluster is - names, image references, paths, resource
    quantities, CIDRs, port names, O(wait_timeout) - so the API server is the last line, not the first.
  - Objects of the app that an earlier run applied and the spec no longer renders are deleted after the apply
    (RV(pruned)); claims only with O(delete_volumes).
  - Requests that fail for a moment (connection refused or reset, 429, 503, 504) are retried with backoff within
    O(wait_timeout) (RV(retries)).
  - While waiting, server pods the scheduler cannot place on this cluster whatever the wait (required
    anti-affinity with fewer failure domains than sides, no node matching the node selector, a StorageClass that
    does not exist) fail the run at once with the scheduler's message; pods that are merely slow are waited for.
  - Every pod template carries one checksum annotation per ConfigMap/Secret it mounts (the same key and digest
    as the license and keystore modules), so a content change restarts exactly the pods that use it.
  - Growing a claim's O(volumes[].size) scales the workloads that mount it to 0, grows the claim, waits for the
    storage and scales them back, as storage that cannot grow attached volumes needs.
  - O(state=rendered) writes the manifests to O(dest) without contacting a cluster.
options:
  name:
    description: Application name; prefix of every object name and value of C(app.kubernetes.io/instance).
    type: str
    required: true
  namespace:
    description: Namespace of the application; created if missing (and never deleted by O(state=absent)).
    type: str
    default: default
  state:
    description:
      - V(present) applies the application, V(absent) deletes every object labelled as part of it (claims only
        with O(delete_volumes)), V(rendered) writes the manifests to O(dest).
    type: str
    choices: [present, absent, rendered]
    default: present
  dest:
    description: Directory for O(state=rendered); one YAML file per object, numbered in apply order.
    type: path
  topology:
    description: How the application is made redundant. Required unless O(state=absent).
    type: str
    choices: [pair, single, cluster]
  topology_key:
    description: Node label whose values are failure domains (anti-affinity of A/B, spread of cluster members).
    type: str
    default: kubernetes.io/hostname
  replicas:
    description:
      - Members of a V(cluster) (ignored otherwise). 1 is allowed, but M(redundant.kube.app_info) reports such an
        app as not redundant.
    type: int
    default: 3
  server:
    description: The server process. Required unless O(state=absent).
    type: dict
    suboptions:
      name:
        description: Workload name of the server (container name, part of object names).
        type: str
        default: server
      <<: &container
       image: &image
         description: Image with a tag or digest (an image without a tag is refused).
         type: str
         required: true
       image_pull_policy: &image_pull_policy
         description: Image pull policy.
         type: str
         choices: [Always, IfNotPresent, Never]
         default: IfNotPresent
       command: &command
         description: Entrypoint override.
         type: list
         elements: str
       args: &args
         description: Arguments.
         type: list
         elements: str
       env: &env
         description: Environment variables (values are turned into strings).
         type: dict
         default: {}
       ports:
         description: Container ports.
         type: list
         elements: dict
         default: []
         suboptions:
           name:
             description: Port name (at most 15 characters).
             type: str
             required: true
           container_port:
             description: Port number.
             type: int
             required: true
           protocol:
             description: Protocol.
             type: str
             choices: [TCP, UDP, SCTP]
             default: TCP
       resources: &resources
         description: Kubernetes C(resources) (requests/limits) as written in a pod spec.
         type: dict
       capabilities:
         description: Linux capabilities to add, e.g. C(NET_BIND_SERVICE), C(NET_RAW).
         type: list
         elements: str
         default: []
       privileged:
         description: Run the container privileged.
         type: bool
         default: false
       devices:
         description: Host device files (e.g. serial ports) mounted at the same path.
         type: list
         elements: path
         default: []
       security_context:
         description: Container C(securityContext) as written in a pod spec; O(server.capabilities) are merged in.
         type: dict
       liveness_probe: &probe
         description: Probe; exactly one of C(exec), C(http_get), C(tcp_socket).
         type: dict
         suboptions:
           exec:
             description: Command run in the container.
             type: list
             elements: str
           http_get:
             description: HTTP GET.
             type: dict
             suboptions:
               path:
                 description: URL path.
                 type: str
                 default: /
               port:
                 description: Port number or name.
                 type: raw
                 required: true
               scheme:
                 description: Scheme.
                 type: str
                 choices: [HTTP, HTTPS]
                 default: HTTP
           tcp_socket:
             description: TCP connect.
             type: dict
             suboptions:
               port:
                 description: Port number or name.
                 type: raw
                 required: true
           initial_delay_seconds:
             description: Seconds before the first probe.
             type: int
           period_seconds:
             description: Seconds between probes.
             type: int
           timeout_seconds:
             description: Probe timeout.
             type: int
           failure_threshold:
             description: Failures before the probe fails.
             type: int
           success_threshold:
             description: Successes before the probe succeeds.
             type: int
       readiness_probe: *probe
       startup_probe: *probe
  companions:
    description:
      - Processes that run beside the server (pair - one per side; single - one), each its own Deployment with
        required pod affinity to its server's node. Same options as O(server); O(companions[].name) is required
        and must differ from the server's.
    type: list
    elements: dict
    default: []
    suboptions:
      <<: *container
      name: &workload_name
        description: Workload name; must differ from the server's and from every other workload's.
        type: str
        required: true
  per_side:
    description:
      - Singletons with one instance per side of a V(pair) (e.g. archive instance 1 beside A, 2 beside B), labelled
        C(redundant.kube/role) and C(redundant.kube/instance-number). Options of O(server) plus the ones below.
    type: list
    elements: dict
    default: []
    suboptions:
      <<: *container
      name: *workload_name
      instances:
        description: Instance number per side.
        type: dict
        default: {a: 1, b: 2}
        suboptions:
          a:
            description: Instance number on side A.
            type: int
            default: 1
          b:
            description: Instance number on side B.
            type: int
            default: 2
      instance_env:
        description: Environment variable that receives the instance number.
        type: str
      roles:
        description: Role label per side.
        type: dict
        default: {a: active, b: passive}
        suboptions:
          a:
            description: Role of the instance on side A.
            type: str
            choices: [active, passive]
            default: active
          b:
            description: Role of the instance on side B.
            type: str
            choices: [active, passive]
            default: passive
  volumes:
    description:
      - Volumes, mounted in every workload unless O(volumes[].workloads) names some.
      - With O(volumes[].size) a PersistentVolumeClaim; shared per side by the server and its companions (they
        run on one node) unless the access mode is C(ReadWriteOncePod), then one per workload. In a V(cluster),
        C(ReadWriteOnce)/C(ReadWriteOncePod) claims are per member (claim templates), others are shared.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Volume name (not starting with C(rk-)).
        type: str
        required: true
      mount_path:
        description: Absolute mount path in the container.
        type: str
        required: true
      sub_path:
        description: Sub-directory of the volume to mount.
        type: str
      read_only:
        description: Mount read-only.
        type: bool
        default: false
      size:
        description: Claim size, a Kubernetes quantity such as C(10Gi).
        type: str
      storage_class:
        description: StorageClass of the claim; the cluster default when unset.
        type: str
      access_mode:
        description: Access mode of the claim.
        type: str
        choices: [ReadWriteOnce, ReadWriteOncePod, ReadWriteMany, ReadOnlyMany]
        default: ReadWriteOnce
      nfs:
        description: An inline NFS volume, e.g. an in-cluster server C(<svc>.<ns>.svc.cluster.local).
        type: dict
        suboptions:
          server:
            description: NFS server name or address (nodes resolve it, so cluster names need node DNS set up).
            type: str
            required: true
          path:
            description: Exported path.
            type: str
            required: true
      host_path:
        description: A directory of the node.
        type: dict
        suboptions:
          path:
            description: Path on the node.
            type: str
            required: true
          type:
            description: hostPath type.
            type: str
            choices: ["", DirectoryOrCreate, Directory, FileOrCreate, File]
            default: DirectoryOrCreate
      empty_dir:
        description: A scratch directory living as long as the pod, shared by its init containers and its container.
        type: bool
        default: false
      secret:
        description:
          - Name of a Secret to mount as a directory, one file per key, read-only (for example a password read through
            a C(*_FILE) variable such as PostgreSQL's C(POSTGRES_PASSWORD_FILE)). The app does not own it (make it with
            C(rk_secrets) in C(keystore.yml)); a change of its content rolls the pods, as for O(env_from_secrets).
        type: str
      workloads:
        description: Workload names that mount it (C(server) always means the server); all when unset.
        type: list
        elements: str
  init_containers:
    description:
      - Processes that run to completion, in the order given, before a workload's container starts, in every
        topology (pair - in each side's pod; single; cluster - in each member), for example midPoint's
        C(midpoint.sh init-native) preparing its home directory on a O(volumes[].empty_dir) the container then
        mounts.
      - They see only the volumes O(init_containers[].volume_mounts) names, at the paths given there; they get the
        side (O(side_env)), instance and member id (O(member_id_env)) variables the container gets, plus their own
        O(init_containers[].env).
      - They run after the module's own init containers (names starting with C(rk-), such as the O(odbc) copy).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: >-
          Container name; must differ from every workload's name and from the other init containers', and not start
          with C(rk-) (the module's own).
        type: str
        required: true
      image: *image
      image_pull_policy: *image_pull_policy
      command: *command
      args: *args
      env: *env
      resources: *resources
      security_context:
        description: Container C(securityContext) as written in a pod spec.
        type: dict
      volume_mounts:
        description: Volumes of O(volumes) the init container mounts; each must be mounted in every workload it runs in.
        type: list
        elements: dict
        default: []
        suboptions:
          volume:
            description: Name of a volume of O(volumes).
            type: str
            required: true
          mount_path:
            description: Absolute mount path in the init container (may differ from the container's).
            type: str
            required: true
          sub_path:
            description: Sub-directory of the volume to mount (relative, without C(..)).
            type: str
          read_only:
            description: Mount read-only (always so for a O(volumes[].secret) volume).
            type: bool
            default: false
      workloads:
        description: Workloads whose pods run it (C(server) always means the server); all when unset.
        type: list
        elements: str
  core_dumps:
    description:
      - Mount a node directory where the node's C(kernel.core_pattern) points. An absolute pattern is resolved
        inside the crashing container, so its directory must exist there; each pod writes to its own
        sub-directory of O(core_dumps.host_path).
    type: dict
    suboptions:
      core_pattern:
        description: The nodes' C(kernel.core_pattern), e.g. C(/data/ddb/core/core.%p).
        type: str
        required: true
      host_path:
        description: Node directory that keeps the cores.
        type: str
        default: /var/crash/redundant-kube
      workloads:
        description: Workloads that get the mount; all when unset.
        type: list
        elements: str
  active_probe:
    description:
      - How to tell at run time which side is active (e.g. the D2000 HOT server). Recorded on the server
        workloads and used by M(redundant.kube.app_info) and the license module.
    type: dict
    suboptions:
      type:
        description: V(label)/V(annotation) the application sets on its active pod, an V(exec) command that
          succeeds in the active pod (through the API server, which must grant C(get) and C(create) on
          C(pods/exec); a refusal is an error naming them), or an V(http) GET that answers 200.
        type: str
        choices: [label, annotation, exec, http]
        required: true
      key:
        description: Label or annotation key.
        type: str
        default: redundant.kube/active
      value:
        description: Value that marks the active pod.
        type: str
        default: "true"
      command:
        description: Command for V(exec).
        type: list
        elements: str
      path:
        description: URL path for V(http).
        type: str
        default: /
      port:
        description: Port for V(http).
        type: int
      scheme:
        description: Scheme for V(http).
        type: str
        choices: [http, https]
        default: http
      via:
        description:
          - How the V(http) GET reaches the pod. V(pod_ip) - straight to the pod's IP from the controller, which
            must then reach the pod network (a node, or a host routed into it). V(api_server) - through the API
            server's pod proxy (C(/api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH)), so a controller that only
            reaches the API server (AWX outside the cluster) can ask; needs C(get) on C(pods/proxy).
        type: str
        choices: [pod_ip, api_server]
        default: pod_ip
  config_files:
    description:
      - Files rendered into one ConfigMap each and mounted at exactly O(config_files[].path) via C(subPath), leaving
        the rest of the directory as the image has it. Content may come from a template lookup.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute file path in the container.
        type: str
        required: true
      content:
        description: File content.
        type: str
        required: true
      workloads:
        description: Workloads that mount it; all when unset.
        type: list
        elements: str
  odbc:
    description:
      - Renders an C(odbc.ini) into a ConfigMap, puts a writable copy of it at O(odbc.path) and exports C(ODBCINI).
        Every DSN gets C(KeepaliveTime = 60) and C(KeepaliveInterval = 60) unless it sets them, so idle database
        connections through firewalls stay alive. Keep passwords out of it (use O(env_from_secrets), e.g.
        C(PGPASSWORD)).
      - The copy is writable because unixODBC reads the file C(ODBCINI) names only if it can open it for appending,
        so from a read-only mount the driver gets none of the DSN's settings. An init container named C(rk-odbc-ini),
        of the workload's own image, resources and security context, runs C(cp) from the ConfigMap into an
        C(emptyDir) before the container starts, so the image must have C(cp) on its C(PATH).
    type: dict
    suboptions:
      path:
        description: Path of the file in the container.
        type: str
        default: /config/odbc/odbc.ini
      dsns:
        description: DSN name -> dictionary of ODBC settings.
        type: dict
        required: true
      workloads:
        description: Workloads that get the file; all when unset.
        type: list
        elements: str
  env_from_secrets:
    description: Secrets whose keys become environment variables of every workload (their digest restarts pods).
    type: list
    elements: str
    default: []
  services:
    description: Services of the application.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Suffix; the Service is C(<name>-<suffix>), or C(<name>) when unset.
        type: str
      type:
        description: Service type.
        type: str
        choices: [ClusterIP, NodePort, LoadBalancer]
        default: ClusterIP
      ports:
        description: Ports.
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: Port name.
            type: str
            required: true
          port:
            description: Service port.
            type: int
            required: true
          target_port:
            description: Container port number or name; O(services[].ports[].port) when unset.
            type: raw
          node_port:
            description: Node port (NodePort/LoadBalancer).
            type: int
          protocol:
            description: Protocol.
            type: str
            choices: [TCP, UDP, SCTP]
            default: TCP
      session_affinity:
        description: C(sessionAffinity=ClientIP).
        type: bool
        default: false
      session_affinity_timeout:
        description: Seconds a client stays pinned.
        type: int
        default: 10800
      per_side:
        description: One Service per side of a V(pair) (C(<service>-a), C(<service>-b)).
        type: bool
        default: false
      workload:
        description: Workload the Service selects.
        type: str
        default: server
  egress:
    description:
      - Renders a NetworkPolicy limiting egress of every pod of the app to the app itself, DNS and the listed
        destinations (e.g. PostgreSQL on 5432, license servers on 443).
    type: dict
    suboptions:
      allow:
        description: Allowed destinations.
        type: list
        elements: dict
        default: []
        suboptions:
          cidr:
            description: Destination network, e.g. C(10.0.0.5/32).
            type: str
            required: true
          ports:
            description: Ports; all when empty.
            type: list
            elements: int
            default: []
          protocol:
            description: Protocol.
            type: str
            choices: [TCP, UDP, SCTP]
            default: TCP
      dns:
        description: Allow DNS (port 53).
        type: bool
        default: true
  keystore:
    description:
      - A Secret or ConfigMap made by another module (here the keystore module), mounted read-only. Its live
        content digest becomes the pod checksum annotation, so a later unchanged run restarts nothing.
    <<: &external
     type: dict
     suboptions:
       secret:
         description: Secret name.
         type: str
       config_map:
         description: ConfigMap name.
         type: str
       mount_path:
         description: Directory (or with O(keystore.key), file) path in the container.
         type: str
         required: true
       key:
         description: Mount only this key, as a file at the mount path.
         type: str
       workloads:
         description: Workloads that mount it; all when unset.
         type: list
         elements: str
  license:
    description: Like O(keystore), for the Secret or ConfigMap the license module maintains.
    <<: *external
  node_selector:
    description: Node labels every pod requires.
    type: dict
    default: {}
  tolerations:
    description: Tolerations of every pod, as in a pod spec; for V(single) they win over the failover defaults.
    type: list
    elements: dict
    default: []
  failover_toleration_seconds:
    description:
      - Seconds a pod stays on a not-ready/unreachable node before it is evicted and started elsewhere
        (Kubernetes' default is 300), for every topology. Entries for the same taint keys in O(tolerations) win.
    type: int
    default: 30
  priority_class:
    description: PriorityClass of every pod.
    type: str
  image_pull_secrets:
    description: Secrets for pulling images.
    type: list
    elements: str
    default: []
  labels:
    description: Extra labels on every object and pod (not under C(app.kubernetes.io/) or C(redundant.kube/)).
    type: dict
    default: {}
  annotations:
    description: Extra annotations on every object and pod.
    type: dict
    default: {}
  ingress:
    description: An Ingress to a Service of the app, optionally with ingress-nginx cookie session affinity.
    type: dict
    suboptions:
      host:
        description: Host name.
        type: str
        required: true
      paths:
        description: Path prefixes.
        type: list
        elements: str
        default: [/]
      service:
        description: Service (suffix or full name); the first Service that is not per side when unset.
        type: str
      port:
        description: Service port number or name; its first port when unset.
        type: raw
      tls_secret:
        description: TLS Secret.
        type: str
      class_name:
        description: IngressClass.
        type: str
      cookie_affinity:
        description: ingress-nginx cookie affinity annotations.
        type: bool
        default: false
      cookie_name:
        description: Cookie name; O(name) when unset.
        type: str
      cookie_max_age:
        description: Cookie lifetime in seconds.
        type: int
        default: 172800
  member_id_env:
    description: V(cluster) - environment variable with the member's pod name (its stable identity).
    type: str
    default: MEMBER_ID
  side_env:
    description: V(pair) - environment variable with the side (V(a) or V(b)).
    type: str
    default: REDUNDANT_KUBE_SIDE
  wait:
    description:
      - Wait until every workload is rolled out and Ready, then check placement (A and B apart, companions on
        their server's node, members spread); fail with the scheduler's own reason for Pending pods.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait (also for volume growth steps), and to retry the API server through a blip when O(wait=true).
      - Must be more than 0.
    type: int
    default: 300
  delete_volumes:
    description:
      - With O(state=absent), delete the claims too (data is lost).
      - With O(state=present), delete the claims of volumes the spec no longer has (data is lost); without it they
        are kept and listed in RV(kept_volumes).
    type: bool
    default: false
extends_documentation_fragment:
  - redundant.kube.connection
attributes:
  check_mode:
    support: full
    description: Can run in check mode and return changed status prediction without modifying target.
    details: Server dry-run of every object; reports what would change.
  diff_mode:
    support: full
    description: Will return details on what has changed (or possibly needs changing in check mode).
    details: Before/after of changed objects, Secret data masked.
notes:
  - Objects are found for removal by the labels C(app.kubernetes.io/managed-by=redundant.kube) and
    C(app.kubernetes.io/instance=<name>).
  - With O(state=rendered), mounts of objects owned by other modules carry no checksum annotation (their
    content is only known on a cluster).
seealso:
  - module: redundant.kube.app_info
author:
  - redundant.kube contributors (@redundant-kube)
"""

EXAMPLES = r"""
- name: D2000-like redundant pair
  redundant.kube.app:
    name: d2000
    namespace: scada
    topology: pair
    server:
      image: registry.example/d2000/server:26.0.1
      env: {D2000_HOME: /config/d2000}
      capabilities: [NET_BIND_SERVICE, NET_RAW]
      devices: [/dev/ttyS0]
      liveness_probe: {tcp_socket: {port: 3119}, initial_delay_seconds: 30}
    companions:
      - {name: clc, image: "registry.example/d2000/clc:26.0.1"}
      - {name: evh, image: "registry.example/d2000/evh:26.0.1"}
    per_side:
      - {name: arc, image: "registry.example/d2000/arc:26.0.1", instance_env: D2000_ARC_INSTANCE}
    config_files:
      - path: /config/d2000/instance.properties
        content: "{{ lookup('ansible.builtin.template', 'instance.properties.j2') }}"
    odbc:
      workloads: [server, arc]
      dsns:
        d2000_cfg: {Driver: PostgreSQL Unicode, Servername: 10.20.0.5, Port: 5432, Database: d2000_cfg}
    egress:
      allow:
        - {cidr: 10.20.0.5/32, ports: [5432]}
        - {cidr: 0.0.0.0/0, ports: [443]}
    license: {config_map: d2000-license, mount_path: /config/d2000/LicenceRun.code, key: LicenceRun.code}
    # D2000 publishes its HOT state in no form Kubernetes reads: the site's own check, exit 0 on the HOT server.
    active_probe: {type: exec, command: [/usr/local/bin/d2000-hot-check]}

- name: IRIS-like single instance on replicated storage
  redundant.kube.app:
    name: iris
    namespace: iris
    topology: single
    server:
      name: iris
      image: intersystems/iris-community:2024.1
      env: {ISC_DATA_DIRECTORY: /external/iris}
      liveness_probe: {exec: [/bin/sh, -c, "iris qlist iris | grep running"], initial_delay_seconds: 25}
    volumes:
      - {name: sys, mount_path: /external, size: 10Gi, storage_class: longhorn}
    services:
      - {type: LoadBalancer, ports: [{name: smp-http, port: 52773}]}

- name: midPoint-like cluster of 3 with a shared keystore, NFS and an init container preparing each home
  redundant.kube.app:
    name: midpoint
    namespace: mp-demo
    topology: cluster
    replicas: 3
    server:
      name: midpoint
      image: evolveum/midpoint:4.8-alpine
      env:
        MP_SET_midpoint_taskManager_clustered: "true"
        MP_SET_midpoint_nodeIdSource: hostname
        MP_SET_midpoint_repository_jdbcPassword_FILE: /opt/midpoint/config-secrets/password
    init_containers:
      - name: mp-config-init
        image: evolveum/midpoint:4.8-alpine
        command: [/bin/bash, /opt/midpoint/bin/midpoint.sh, init-native]
        env: {MP_INIT_CFG: /opt/mp-home}
        volume_mounts:
          - {volume: home, mount_path: /opt/mp-home}
    volumes:
      - {name: home, mount_path: /opt/midpoint/var, empty_dir: true}
      - {name: db-pass, mount_path: /opt/midpoint/config-secrets, secret: mp-demo-db}
      - name: shared
        mount_path: /opt/midpoint/var/post-initial-objects
        nfs: {server: mp-demo-nfs.mp-demo.svc.cluster.local, path: /exports}
    keystore: {secret: mp-demo-keystore, mount_path: /opt/midpoint/mount-keystore}
    services:
      - {session_affinity: true, ports: [{name: gui, port: 8080}]}
    ingress: {host: midpoint.example.com, cookie_affinity: true}

- name: Manifests for review or GitOps, no cluster needed
  redundant.kube.app:
    name: iris
    topology: single
    server: {image: "intersystems/iris-community:2024.1"}
    state: rendered
    dest: /tmp/iris-manifests

- name: Remove the app, keep its data
  redundant.kube.app:
    name: d2000
    namespace: scada
    state: absent
"""

RETURN = r"""
objects:
  description: Every object of the app and what this run did to it (created, updated, unchanged, deleted).
  returned: state is present or absent
  type: list
  elements: dict
  sample: [{kind: Deployment, name: d2000-server-a, namespace: scada, action: unchanged}]
pods:
  description: Pods after the rollout, with side, node, phase, readiness and restarts (O(wait=true)).
  returned: state is present
  type: list
  elements: dict
  sample: [{name: d2000-server-a-6f9c-x2x, workload: server, kind: server, side: a, node: node-1,
            phase: Running, ready: true, restarts: 0, terminating: false}]
volume_growth:
  description: Steps of the volume growth procedure taken (or, in check mode, planned).
  returned: state is present
  type: list
  elements: str
missing_dependencies:
  description:
    - In check mode, the license, keystore and other Secrets or ConfigMaps the app mounts that do not exist yet
      (an earlier stage of the same check run, such as the keystore or license stage, would create them). Each is
      also a warning. A real run fails on the first missing one instead.
  returned: state is present
  type: list
  elements: str
  sample: ["keystore: Secret d2000-keystore does not exist in namespace scada yet (check mode: ...)"]
retries:
  description:
    - How many requests to the API server were repeated after a transient failure (connection refused or reset,
      the server restarting, answers 429, 503 or 504), with exponential backoff - for up to O(wait_timeout)
      seconds per request when O(wait=true), else up to 5 times. V(0) on a run without a blip.
  returned: state is present or absent, also when the run fails on the cluster
  type: int
  sample: 3
pruned:
  description:
    - Objects of the app this module applied earlier that the spec no longer renders (a config file renamed, a
      companion or Service removed), deleted by this run after applying the rest - or, in check mode, that would
      be (server dry-run); each is also in RV(objects) with action V(deleted), and in the diff. Found by the app's
      labels and kept only if this module applied them (field manager C(redundant.kube)), as C(kubectl apply
      --prune) with an ApplySet does; objects controllers made (a StatefulSet's claims) are never pruned.
  returned: state is present
  type: list
  elements: str
  sample: [ConfigMap/d2000-cfg-config-d2000-old-properties, Deployment/d2000-kom-a]
kept_volumes:
  description:
    - Claims left in place by O(state=absent) without O(delete_volumes), or, with O(state=present), claims of
      volumes the spec no longer has (pruned only with O(delete_volumes)).
  returned: state is present or absent
  type: list
  elements: str
files:
  description: Files of the rendered manifests in O(dest).
  returned: state is rendered
  type: list
  elements: str
written:
  description: Files written (new or changed) in O(dest).
  returned: state is rendered
  type: list
  elements: str
removed:
  description: Files of objects no longer rendered, removed from O(dest).
  returned: state is rendered
  type: list
  elements: str
"""

from ansible_collections.redundant.kube.plugins.module_utils.app.argspec import (
    APP_ARGUMENT_SPEC,
    APP_REQUIRED_IF,
)
from ansible_collections.redundant.kube.plugins.module_utils.app.runtime import deploy, remove, write_rendered
from ansible_collections.redundant.kube.plugins.module_utils.app.spec import SpecError, parse_spec
from ansible_collections.redundant.kube.plugins.module_utils.kube.ansible_module import (
    kube_module,
    run_kube_module,
)


def main():
    module = kube_module(APP_ARGUMENT_SPEC, required_if=APP_REQUIRED_IF)
    params = module.params
    if params["state"] == "absent":
        run_kube_module(
            module,
            lambda resources: remove(
                resources,
                params["name"],
                params["namespace"],
                params["delete_volumes"],
                module.check_mode,
                params["wait"],
                params["wait_timeout"],
            ),
        )
        return
    try:
        spec = parse_spec(params)
    except SpecError as exc:
        module.fail_json(msg=str(exc))
    if params["state"] == "rendered":
        module.exit_json(**write_rendered(spec, params["dest"], module.check_mode))

    def present(resources):
        result = deploy(
            resources,
            spec,
            module.check_mode,
            module._diff,
            params["wait"],
            params["wait_timeout"],
            params["delete_volumes"],
        )
        for message in result["missing_dependencies"]:
            module.warn(message)
        return result

    run_kube_module(module, present)


if __name__ == "__main__":
    main()
