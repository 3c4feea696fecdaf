#!/usr/bin/env bash
# Prints a directory holding what the kubeadm_cluster scenario installs air-gapped, all built from the
# pinned upstream Go modules (tests/cluster/versions.env), nothing downloaded at test time:
#   kubeadm kubectl kubelet       the binaries (kubelet built here while build-binaries.sh lacks it)
#   kube-proxy                    for the images of the realnodes tier (tests/realnodes), built with kubelet
#   images/*.tar                  kube-apiserver, kube-controller-manager, kube-scheduler and etcd images
#                                 made from those binaries, and a locally built pause stand-in
#   images.env                    the image references, for the scenario's variables
# Cached under $RK_CACHE by version; a second run only checks. Progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
# shellcheck source=/dev/null
. "$repo/tests/cluster/versions.env"
bin=$("$repo/tests/cluster/build-binaries.sh" | tail -n 1)
out=${RK_CACHE:-$HOME/.cache/redundant-kube}/kubeadm-node-$KUBE_VERSION-etcd-$ETCD_VERSION
mkdir -p "$out/images"
log() { printf '[node-artifacts %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Copied only when they differ, and by rename: another run on this machine may be executing the cached copy
# (writing over a running executable fails with "Text file busy", for the writer or the next exec).
refresh() {
  cmp -s "$1" "$2" || { cp -p "$1" "$2.new.$$" && mv -f "$2.new.$$" "$2"; }
}
for b in kubeadm kubectl; do refresh "$bin/$b" "$out/$b"; done
if [ -x "$bin/kubelet" ]; then refresh "$bin/kubelet" "$out/kubelet"; fi
if [ ! -x "$out/kubelet" ] || [ ! -x "$out/kube-proxy" ]; then
  # Until tests/cluster/build-binaries.sh builds kubelet too: the same kind of wrapper module (the
  # staging modules that k8s.io/kubernetes requires at v0.0.0 replaced by their released versions) and
  # the same version stamp, so kubeadm's kubelet version check passes. Go's build cache makes it cheap.
  log "building kubelet and kube-proxy $KUBE_VERSION (build-binaries.sh does not build them): about 2 min on 2 cores with a warm cache"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
  src=$out/src
  mkdir -p "$src"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module redundant.kube/build/kubelet"
    echo "go $(awk '$1=="go"{print $2; exit}' "$gomod")"
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    awk -v s="v0.${KUBE_VERSION#v1.}" '$2=="v0.0.0" && $1 ~ /^k8s\.io\// {print "replace " $1 " => " $1 " " s}' "$gomod"
  } >"$src/go.mod"
  echo "package build" >"$src/build.go"
  minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  ldv=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldv+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  # A directory of this process's own: another run on this machine may build the same binaries at the same time.
  mkdir -p "$out/partial.$$"
  (cd "$src" && go build -trimpath -ldflags "-s -w$ldv" -o "$out/partial.$$/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
  mv "$out/partial.$$/kubelet" "$out/partial.$$/kube-proxy" "$out/"
  rmdir "$out/partial.$$"
fi

if [ ! -x "$out/pause" ]; then
  log "building the pause stand-in"
  (cd "$here/pause" && GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/pause" .)
fi

pause_ref=$("$out/kubeadm" config images list --kubernetes-version "$KUBE_VERSION" 2>/dev/null | grep '/pause:')
etcd_tag=${ETCD_VERSION#v}-0
{
  echo "KUBE_VERSION=$KUBE_VERSION"
  echo "ETCD_IMAGE_TAG=$etcd_tag"
  echo "PAUSE_IMAGE=$pause_ref"
} >"$out/images.env"
image() { # name reference binary
  [ -s "$out/images/$1.tar" ] && [ "$out/images/$1.tar" -nt "$3" ] && return 0
  log "image $2 from $3"
  python3 "$here/image_archive.py" "$out/images/$1.tar" "$2" "$3"
}
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  image "$c" "registry.k8s.io/$c:$KUBE_VERSION" "$bin/$c"
done
image etcd "registry.k8s.io/etcd:$etcd_tag" "$bin/etcd"
image pause "$pause_ref" "$out/pause"
echo "$out"
