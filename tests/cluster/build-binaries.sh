#!/usr/bin/env bash
# Build the local control plane from the upstream Go modules, once per pinned version.
#   kube-apiserver kube-controller-manager kube-scheduler kubectl kubeadm  (k8s.io/kubernetes)
#   etcd                                                                   (go.etcd.io/etcd/server/v3)
#   kwok kwokctl                                                           (sigs.k8s.io/kwok)
#   helm                                                                   (helm.sh/helm/v3)
# Output: $RK_CACHE/k8s-$KUBE_VERSION/bin ; a second run only checks that the binaries are there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${RK_CACHE:-$HOME/.cache/redundant-kube}
out="$cache/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION"
bin="$out/bin"
want=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubeadm etcd kwok kwokctl helm)
missing=()
for b in "${want[@]}"; do [ -x "$bin/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then echo "$bin"; exit 0; fi
mkdir -p "$bin" "$out/src"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
log() { printf '[build-binaries %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# A wrapper module pinning a module whose go.mod requires its staging modules at v0.0.0:
# every such requirement is replaced by the released staging version (v0.<minor>.<patch>).
wrapper() { # dir main-module version staging-version
  local dir=$1 mod=$2 ver=$3 staging=$4 gomod
  mkdir -p "$dir"
  gomod=$(go mod download -json "$mod@$ver" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module redundant.kube/build/$(basename "$dir")"
    echo "go $(awk '$1=="go"{print $2; exit}' "$gomod")"
    echo "require $mod $ver"
    awk -v s="$staging" '$2=="v0.0.0" && $1 ~ /^k8s\.io\// {print "replace " $1 " => " $1 " " s}' "$gomod"
  } >"$dir/go.mod"
  # main packages cannot be imported; an empty package keeps `go build` happy about the module.
  echo "package build" >"$dir/build.go"
}

kube_minor_patch=${KUBE_VERSION#v1.}
if [[ " ${missing[*]} " =~ \ (kube-apiserver|kube-controller-manager|kube-scheduler|kubectl|kubeadm)\  ]]; then
  log "building Kubernetes $KUBE_VERSION (apiserver, controller-manager, scheduler, kubectl, kubeadm): about 5 min cold on 2 cores"
  wrapper "$out/src/kubernetes" k8s.io/kubernetes "$KUBE_VERSION" "v0.$kube_minor_patch"
  major=1 minor=${kube_minor_patch%%.*}
  ldv=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldv+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$out/src/kubernetes" && go build -trimpath -ldflags "-s -w$ldv" -o "$bin/" \
     k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
     k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubeadm)
  log "Kubernetes built"
fi
if [ ! -x "$bin/etcd" ]; then
  log "building etcd $ETCD_VERSION"
  wrapper "$out/src/etcd" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" unused
  (cd "$out/src/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3)
  log "etcd built"
fi
if [ ! -x "$bin/kwok" ] || [ ! -x "$bin/kwokctl" ]; then
  log "building kwok $KWOK_VERSION"
  wrapper "$out/src/kwok" sigs.k8s.io/kwok "$KWOK_VERSION" unused
  (cd "$out/src/kwok" && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$bin/" \
     sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl)
  log "kwok built"
fi
if [ ! -x "$bin/helm" ]; then
  log "building helm $HELM_VERSION"
  wrapper "$out/src/helm" helm.sh/helm/v3 "$HELM_VERSION" unused
  (cd "$out/src/helm" && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$bin/helm" helm.sh/helm/v3/cmd/helm)
  log "helm built"
fi
echo "$bin"
