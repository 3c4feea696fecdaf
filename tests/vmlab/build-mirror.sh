#!/usr/bin/env bash
# Builds the lab's air-gapped package mirror: a flat apt repository holding the given packages and
# every dependency the base image lacks (without Recommends, as the image's apt is configured).
#   build-mirror.sh IMAGE_DIR PACKAGE...
# The host's apt resolves against the image's own dpkg status file, so the mirror holds exactly what
# the VMs will ask for. Cached under $RK_CACHE/vmlab/mirror-<hash of this script, the image and the
# package list>. Prints the mirror directory on stdout; progress goes to stderr.
set -euo pipefail
image=${1:?usage: build-mirror.sh IMAGE_DIR PACKAGE...}
shift
[ $# -gt 0 ] || { echo "build-mirror: no packages given" >&2; exit 2; }
cache=${RK_CACHE:-$HOME/.cache/redundant-kube}/vmlab
mirror=${RK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# The image's dpkg status is in the key: a rebuilt image (same script, newer point release) gets a
# mirror resolved against what it really has.
key=$({ cat "$0" "$image/dpkg-status"; printf '%s\n' "$@" | sort -u; } | sha256sum | cut -c1-12)
out=$cache/mirror-$key

if [ -s "$out/Release" ]; then
  echo "$out"
  exit 0
fi
command -v apt-ftparchive >/dev/null || { echo "build-mirror: apt-ftparchive is missing (tests/vmlab/setup.sh installs apt-utils)" >&2; exit 1; }
# One build at a time; under the lock, any mirror-build.* left here is a dead build's.
exec 9>"$cache/.build-mirror.lock"
flock 9
if [ -s "$out/Release" ]; then
  echo "$out"
  exit 0
fi
rm -rf "$cache"/mirror-build.*
work=$(mktemp -d "$cache/mirror-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{lists/partial,archives/partial,cache,sources.list.d,preferences.d,repo}
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$work/sources.list"
cp "$image/dpkg-status" "$work/status"
apt_opts=(
  -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts="$work/sources.list.d"
  -o Dir::Etc::Preferences="$work/preferences" -o Dir::Etc::PreferencesParts="$work/preferences.d"
  -o Dir::State::Lists="$work/lists" -o Dir::State::Status="$work/status"
  -o Dir::State::extended_states="$work/extended_states"
  -o Dir::Cache="$work/cache" -o Dir::Cache::Archives="$work/archives"
  -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o APT::Install-Recommends=false
  -o Debug::NoLocking=true
)
log=$cache/build-mirror.log
echo "[vmlab build-mirror] download $* with the dependencies the image lacks" >&2
if ! { apt-get "${apt_opts[@]}" update && apt-get "${apt_opts[@]}" install --download-only -y "$@"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "build-mirror: apt-get failed, full log in $log" >&2
  exit 1
fi
mv "$work"/archives/*.deb "$work/repo/"
(
  cd "$work/repo"
  apt-ftparchive packages . >Packages
  apt-ftparchive -o APT::FTPArchive::Release::Suite=vmlab release . >Release
)
rm -rf "$out"
mv "$work/repo" "$out"
# A mirror for another image or package list is never used again.
find "$cache" -maxdepth 1 -name 'mirror-*' ! -name "mirror-$key" ! -name 'mirror-build.*' -exec rm -rf {} +
echo "[vmlab build-mirror] $(find "$out" -name '*.deb' | wc -l) packages in $out" >&2
echo "$out"
