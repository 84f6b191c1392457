#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need (tshark to
# decode what we put on the wire, usrsctp as the reference peer, Go and pion/sctp as the
# WebRTC peer), builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
[ -f /usr/include/usrsctp.h ] || need+=(libusrsctp2 libusrsctp-dev)
[ -x /usr/lib/usrsctp/tsctp ] || need+=(libusrsctp-examples)
# pion/sctp (the Go stack of most Go WebRTC servers) and Go to build our pion peer offline.
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/pion/sctp ] || need+=(golang-github-pion-sctp-dev)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Tests that need tshark, usrsctp or pion fail, instead of skipping, when they are missing.
export SCTP_REQUIRE_TOOLS=1

swift build --build-tests
# libswiftsctp (the C interface), which the C tests compile their example against.
swift build --product swiftsctp
swift test --skip-build
