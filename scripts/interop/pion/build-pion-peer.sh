#!/usr/bin/env bash
# Builds pion-peer (scripts/interop/pion/pion-peer.go) into OUTPUT_PATH, offline, from
# Debian's golang-go and golang-github-pion-sctp-dev (GOPATH mode: the Debian package puts
# pion/sctp, pion/logging and pion/randutil under /usr/share/gocode/src). Exits non-zero
# when Go or pion is missing or the build fails.
set -euo pipefail
output="${1:?usage: build-pion-peer.sh OUTPUT_PATH}"
here="$(cd "$(dirname "$0")" && pwd)"
gocode="${PION_GOPATH:-/usr/share/gocode}"
go="${GO:-go}"
command -v "$go" >/dev/null 2>&1 || { echo "build-pion-peer.sh: no Go toolchain ($go); apt-get install golang-go" >&2; exit 2; }
[ -d "$gocode/src/github.com/pion/sctp" ] || {
  echo "build-pion-peer.sh: pion/sctp is not in $gocode/src; apt-get install golang-github-pion-sctp-dev" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# GOPATH mode, no network: imports come from the Debian tree only.
export GO111MODULE=off GOPATH="$gocode" GOPROXY=off GOFLAGS= GOCACHE="${GOCACHE:-$work/cache}" CGO_ENABLED=0
"$go" build -o "$output" "$here/pion-peer.go"
