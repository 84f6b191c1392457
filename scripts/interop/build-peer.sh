#!/bin/sh
# Builds scripts/interop/usrsctp-peer.c into OUTPUT_PATH.
# Needs a C compiler (cc) and usrsctp (Debian: libusrsctp-dev).
# Usage: scripts/interop/build-peer.sh OUTPUT_PATH
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 OUTPUT_PATH" >&2
	exit 2
fi
out=$1
src="$(cd "$(dirname "$0")" && pwd)/usrsctp-peer.c"
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "$0: no C compiler ($cc)" >&2
	exit 1
fi
exec "$cc" -O2 -Wall -Werror -o "$out" "$src" -lusrsctp -lpthread
