#!/usr/bin/env bash
# Instructions per association setup, counted exactly with callgrind (this VM has no hardware
# counters, and wall-clock rates swing ±15 %): one side of `sctp-perf --setup-rate` runs under
# callgrind, the other normally; prints the instructions spent in the event loop thread per
# association, and leaves the callgrind file for callgrind_annotate.
#
#   Benchmarks/tools/callgrind-setup.sh server [SCTP_PERF] [N]
#   Benchmarks/tools/callgrind-setup.sh client [SCTP_PERF] [N]
#
# SCTP_PERF defaults to .build/release/sctp-perf (build it with -c release first); N to 2000.
# Valgrind 3.19 cannot read Swift's DWARF 5: the binary is run from a copy without debug
# information (`strip -g`); symbols stay. Needs valgrind; no root.
set -euo pipefail
side=${1:?server or client}
perf=${2:-.build/release/sctp-perf}
count=${3:-2000}
[[ $side == server || $side == client ]] || { echo "first argument: server or client" >&2; exit 2; }
[[ $count =~ ^[1-9][0-9]{0,5}$ ]] || { echo "N: 1...999999" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
strip -g -o "$work/sctp-perf" "$perf"
ports=$(python3 -c 'import socket
s=[socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
read -r serverUDP clientUDP <<< "$ports"
port=$((6001 + RANDOM % 1000))
out="callgrind.setup-$side.out"
server=("--server" "--quiet" "--bind" "127.0.0.1" "--port" "$port" "--udp-port" "$serverUDP" "--peer-udp-port" "$clientUDP")
client=("--client" "127.0.0.1" "--port" "$port" "--udp-port" "$clientUDP" "--peer-udp-port" "$serverUDP"
        "--setup-rate" "$count" "--setup-api" "events" "--time" "600" "--json")
if [[ $side == server ]]; then
    valgrind --tool=callgrind --callgrind-out-file="$out" "$work/sctp-perf" "${server[@]}" > /dev/null 2> "$work/valgrind.err" &
    vg=$!
    for _ in $(seq 1 300); do grep -q "For interactive" "$work/valgrind.err" 2>/dev/null && break; sleep 0.1; done
    sleep 3  # the server binds its socket after valgrind has started it
    "$perf" "${client[@]}" | tail -1
    kill -TERM $vg; wait $vg || true
else
    "$perf" "${server[@]}" > /dev/null 2>&1 &
    sleep 0.5
    valgrind --tool=callgrind --callgrind-out-file="$out" "$work/sctp-perf" "${client[@]}" 2> "$work/valgrind.err" | tail -1
fi
loop=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null | grep "SCTPEventLoopC3run" | head -1 | awk '{gsub(",", "", $1); print $1}')
[[ -n $loop ]] || { echo "no event loop thread in $out" >&2; exit 1; }
echo "$side: $((loop / count)) instructions per association in the event loop thread ($count associations; $out)"
