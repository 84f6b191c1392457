#!/usr/bin/env bash
# Interoperability of sctp-perf with usrsctp's tsctp, both ways, over UDP encapsulation
# (RFC 6951) on loopback, with explicit addresses only.
#
#   scripts/interop/tsctp-check.sh                      # the whole matrix, exits non-zero on failure
#   scripts/interop/tsctp-check.sh --sizes "1200" --time 2 --no-capture
#   scripts/interop/tsctp-check.sh --bench              # Mbit/s at 1200 bytes: tsctp<->tsctp,
#                                                       # sctp-perf<->sctp-perf and the mixed pairs
#
# Directions, for each size and for ordered and unordered messages:
#   A  tsctp server  <- sctp-perf --client   (the server's final line must count what we sent)
#   B  sctp-perf --server --once  <- tsctp client  (our summary must count what tsctp sent)
# Then two-way traffic, which tsctp does not do, with our usrsctp peer (scripts/interop/
# usrsctp-peer.c, built here) echoing, each side checking the other's echoes:
#   E1 usrsctp-peer server --mode echo --verify  <- sctp-perf --client --echo
#   E2 sctp-perf --server --echo  <- usrsctp-peer client --echo
# Unordered messages towards usrsctp stay at 64 KiB or below (usrsctp 0.9.5 heap bug).
#
# With root and tshark every run is captured on lo and checked: no malformed packet, no bad
# CRC32c, no expert error (the captures of failed runs are kept in the work directory).
#
# Options: --sizes "L1 L2 ..." (default "100 1200 8000 65000"), --time S (default 3),
#          --no-capture, --no-echo (skip E1/E2), --bench (only the benchmark), --keep (keep
#          the work directory).
# Env:     SCTP_PERF=path to a built sctp-perf (default: swift build -c release --product sctp-perf),
#          TSCTP=path to tsctp (default /usr/lib/usrsctp/tsctp).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SIZES="100 1200 8000 65000"
TIME=3
CAPTURE=1
BENCH=0
KEEP=0
ECHO=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --sizes) SIZES=$2; shift 2 ;;
        --time) TIME=$2; shift 2 ;;
        --no-capture) CAPTURE=0; shift ;;
        --bench) BENCH=1; shift ;;
        --no-echo) ECHO=0; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

TSCTP=${TSCTP:-/usr/lib/usrsctp/tsctp}
WORK=$(mktemp -d /tmp/tsctp-check.XXXXXX)
PIDS=()
FAILURES=0
RESULTS=()

log() { echo "[tsctp-check] $*" >&2; }

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ $KEEP == 1 || $FAILURES -gt 0 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

[[ -x $TSCTP ]] || { log "tsctp not found at $TSCTP (apt-get install libusrsctp-examples)"; exit 2; }
command -v ss >/dev/null || { log "missing ss (iproute2)"; exit 2; }
if [[ $CAPTURE == 1 ]] && { [[ $(id -u) -ne 0 ]] || ! command -v tshark >/dev/null; }; then
    log "no capture (needs root and tshark)"
    CAPTURE=0
fi

if [[ -z ${SCTP_PERF:-} ]]; then
    log "building sctp-perf (release)"
    (cd "$ROOT" && swift build -c release --product sctp-perf >&2)
    SCTP_PERF="$ROOT/.build/release/sctp-perf"
fi
[[ -x $SCTP_PERF ]] || { log "sctp-perf not found at $SCTP_PERF"; exit 2; }

# Debian's tsctp switches all of usrsctp's debug output on, which halves its speed and floods
# stdout: this shim forces the debug mask to 0 (LD_PRELOAD).
SHIM=$WORK/nodebug.so
if ! cc -shared -fPIC -O2 "$HERE/usrsctp-nodebug.c" -o "$SHIM" -ldl 2>/dev/null; then
    log "cannot build the no-debug shim: tsctp runs with its debug output (slower)"
    SHIM=""
fi
# env execs tsctp, so that $! of a background run is tsctp's own pid.
TSCTP_RUN=(env LD_PRELOAD="$SHIM" "$TSCTP")

. "$ROOT/scripts/lib/run-helpers.sh"  # free_udp_port, wait_for, udp_bound, has_line, exited

capture_start() {  # NAME U1 U2 -> sets CAP_PID, CAP_FILE
    CAP_PID=""
    CAP_FILE=$WORK/$1.pcap
    [[ $CAPTURE == 1 ]] || return 0
    tshark -i lo -f "udp port $2 or udp port $3" -w "$CAP_FILE" >"$WORK/$1.tshark.log" 2>&1 &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    wait_for 20 has_line "$WORK/$1.tshark.log" "Capture started|Capturing on" || log "tshark did not report starting"
}

capture_check() {  # NAME U1 U2 -> 0 when clean
    [[ $CAPTURE == 1 && -n $CAP_PID ]] || return 0
    kill -INT "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
    local bad
    bad=$(tshark -r "$CAP_FILE" -d "udp.port==$2,sctp" -d "udp.port==$3,sctp" -o sctp.checksum:CRC-32C \
        -Y "sctp.checksum.status != 1 || _ws.malformed || _ws.expert.severity >= 8388608" 2>/dev/null | head -5)
    if [[ -n $bad ]]; then
        log "capture $CAP_FILE has malformed packets or bad checksums:"
        echo "$bad" >&2
        return 1
    fi
    rm -f "$CAP_FILE"
}

json_field() { sed -n 's/.*"'"$2"'": \("\{0,1\}[^",}]*\).*/\1/p' "$1" | tail -1 | tr -d '"'; }

record() {  # STATUS TEXT
    RESULTS+=("$1  $2")
    if [[ $1 != ok ]]; then FAILURES=$((FAILURES + 1)); fi
    log "$1  $2"
}

# A: tsctp server, sctp-perf client.
run_a() {  # LENGTH UNORDERED(0/1)
    local length=$1 unordered=$2 name="A-$1-$2" u1 u2 port flag="" uflag=""
    u1=$(free_udp_port); u2=$(free_udp_port); port=$((5001 + RANDOM % 1000))
    [[ $unordered == 1 ]] && { flag="--unordered"; uflag="unordered"; }
    capture_start "$name" "$u1" "$u2"
    "${TSCTP_RUN[@]}" -E "$u1" -U "$u2" -L 127.0.0.1 -p "$port" >"$WORK/$name.server" 2>&1 &
    local server=$!
    PIDS+=("$server")
    if ! wait_for 10 udp_bound "$u1"; then record FAIL "$name: tsctp server did not bind UDP $u1"; kill "$server"; return; fi
    local rc=0
    timeout $((TIME + 60)) "$SCTP_PERF" --client 127.0.0.1 --port "$port" --udp-port "$u2" --peer-udp-port "$u1" \
        --length "$length" --time "$TIME" $flag --json >"$WORK/$name.client" 2>"$WORK/$name.client.err" || rc=$?
    local line=""
    # tsctp prints "length, messages, recv calls, bytes, seconds, bytes/s, notifications" when the association ends.
    if wait_for 30 has_line "$WORK/$name.server" '^[0-9]+, [0-9]+, [0-9]+, [0-9]+, '; then
        line=$(grep -E '^[0-9]+, [0-9]+, [0-9]+, [0-9]+, ' "$WORK/$name.server" | tail -1)
    fi
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    local sent bytes mbps
    sent=$(json_field "$WORK/$name.client" messages); bytes=$(json_field "$WORK/$name.client" bytes)
    mbps=$(json_field "$WORK/$name.client" mbps)
    local got_messages got_bytes
    got_messages=$(echo "$line" | awk -F', ' '{print $2}'); got_bytes=$(echo "$line" | awk -F', ' '{print $4}')
    local capture_ok=1
    capture_check "$name" "$u1" "$u2" || capture_ok=0
    local what="tsctp server <- sctp-perf client, $length bytes ${uflag:-ordered}"
    if [[ $rc -ne 0 ]]; then
        record FAIL "$what: sctp-perf exited $rc: $(tail -1 "$WORK/$name.client.err")"
    elif [[ -z $line ]]; then
        record FAIL "$what: tsctp printed no result line"
    elif [[ $got_messages != "$sent" || $got_bytes != "$bytes" ]]; then
        record FAIL "$what: sent $sent messages / $bytes bytes, tsctp counted $got_messages / $got_bytes"
    elif [[ $capture_ok == 0 ]]; then
        record FAIL "$what: bad packets in the capture"
    else
        record ok "$what: $sent messages, $bytes bytes, $(printf '%.1f' "$mbps") Mbit/s, retransmissions $(json_field "$WORK/$name.client" retransmissions)"
    fi
}

# B: sctp-perf server, tsctp client.
run_b() {  # LENGTH UNORDERED(0/1)
    local length=$1 unordered=$2 name="B-$1-$2" u1 u2 port flag="" uflag=""
    u1=$(free_udp_port); u2=$(free_udp_port); port=$((5001 + RANDOM % 1000))
    [[ $unordered == 1 ]] && { flag="-u"; uflag="unordered"; }
    capture_start "$name" "$u1" "$u2"
    "$SCTP_PERF" --server --once --port "$port" --udp-port "$u1" --peer-udp-port "$u2" --json \
        >"$WORK/$name.server" 2>"$WORK/$name.server.err" &
    local server=$!
    PIDS+=("$server")
    if ! wait_for 20 has_line "$WORK/$name.server" "listening"; then
        record FAIL "$name: sctp-perf server did not start: $(tail -1 "$WORK/$name.server.err")"; kill "$server"; return
    fi
    local rc=0
    timeout $((TIME + 60)) "${TSCTP_RUN[@]}" -D -E "$u2" -U "$u1" -L 127.0.0.1 -p "$port" -l "$length" \
        -T "$TIME" $flag 127.0.0.1 >"$WORK/$name.client" 2>&1 || rc=$?
    local src=0
    if wait_for 30 exited "$server"; then wait "$server" || src=$?; else src=timeout; kill "$server" 2>/dev/null || true; fi
    local sent
    sent=$(sed -n 's/^Sending of \([0-9]*\) messages of length.*/\1/p' "$WORK/$name.client" | tail -1)
    local got_messages got_bytes ended mbps
    got_messages=$(json_field "$WORK/$name.server" messages); got_bytes=$(json_field "$WORK/$name.server" bytes)
    ended=$(json_field "$WORK/$name.server" ended); mbps=$(json_field "$WORK/$name.server" mbps)
    local capture_ok=1
    capture_check "$name" "$u1" "$u2" || capture_ok=0
    local what="sctp-perf server <- tsctp client, $length bytes ${uflag:-ordered}"
    if [[ $rc -ne 0 ]]; then
        record FAIL "$what: tsctp exited $rc: $(grep -v '^\[' "$WORK/$name.client" | tail -1)"
    elif [[ $src != 0 ]]; then
        record FAIL "$what: sctp-perf server exited $src: $(tail -1 "$WORK/$name.server.err")"
    elif [[ -z $sent ]]; then
        record FAIL "$what: tsctp printed no summary"
    elif [[ $got_messages != "$sent" || $got_bytes != $((sent * length)) ]]; then
        record FAIL "$what: tsctp sent $sent messages / $((sent * length)) bytes, we counted $got_messages / $got_bytes ($ended)"
    elif [[ $capture_ok == 0 ]]; then
        record FAIL "$what: bad packets in the capture"
    else
        record ok "$what: $sent messages, $got_bytes bytes, $(printf '%.1f' "$mbps") Mbit/s"
    fi
}

# E1: usrsctp-peer echo server, sctp-perf client checking every echo.
run_e1() {  # LENGTH UNORDERED(0/1) MESSAGES STREAMS
    local length=$1 unordered=$2 messages=$3 streams=$4 name="E1-$1-$2" u1 u2 flag="" uflag=""
    u1=$(free_udp_port); u2=$(free_udp_port)
    [[ $unordered == 1 ]] && { flag="--unordered"; uflag="unordered"; }
    capture_start "$name" "$u1" "$u2"
    "$PEER" server --bind 127.0.0.1 --port 5001 --udp-port "$u1" --peer-udp-port "$u2" --mode echo --verify --timeout 30 \
        >"$WORK/$name.server" 2>"$WORK/$name.server.err" &
    local server=$!
    PIDS+=("$server")
    if ! wait_for 20 has_line "$WORK/$name.server" "^READY"; then
        record FAIL "$name: usrsctp-peer did not start: $(tail -1 "$WORK/$name.server.err")"; kill "$server"; return
    fi
    local rc=0
    timeout 120 "$SCTP_PERF" --client 127.0.0.1 --port 5001 --udp-port "$u2" --peer-udp-port "$u1" --echo --json \
        --length "$length" --messages "$messages" --streams "$streams" $flag >"$WORK/$name.client" 2>"$WORK/$name.client.err" || rc=$?
    local src=0
    if wait_for 60 exited "$server"; then wait "$server" || src=$?; else src=timeout; kill "$server" 2>/dev/null || true; fi
    local capture_ok=1
    capture_check "$name" "$u1" "$u2" || capture_ok=0
    local what="usrsctp-peer echo server <- sctp-perf --echo, $messages x $length bytes ${uflag:-ordered} on $streams streams"
    local result; result=$(grep '^RESULT' "$WORK/$name.server" || true)
    if [[ $rc -ne 0 ]]; then
        record FAIL "$what: sctp-perf exited $rc: $(tail -1 "$WORK/$name.client.err")"
    elif [[ $src != 0 ]]; then
        record FAIL "$what: usrsctp-peer exited $src: $(grep ERROR "$WORK/$name.server" "$WORK/$name.server.err" | head -1)"
    elif [[ $(json_field "$WORK/$name.client" echoed) != "$messages" || $(json_field "$WORK/$name.client" verify_errors) != 0 ]]; then
        record FAIL "$what: echoed $(json_field "$WORK/$name.client" echoed), verify errors $(json_field "$WORK/$name.client" verify_errors)"
    elif [[ $result != *"messages_received=$messages "* || $result != *"verify_errors=0 "* ]]; then
        record FAIL "$what: usrsctp-peer says $result"
    elif [[ $capture_ok == 0 ]]; then
        record FAIL "$what: bad packets in the capture"
    else
        record ok "$what: all echoed and verified both sides, $(printf '%.1f' "$(json_field "$WORK/$name.client" mbps)") Mbit/s"
    fi
}

# E2: sctp-perf echo server, usrsctp-peer client checking every echo.
run_e2() {  # LENGTH UNORDERED(0/1) MESSAGES STREAMS
    local length=$1 unordered=$2 messages=$3 streams=$4 name="E2-$1-$2" u1 u2 flag="" uflag=""
    u1=$(free_udp_port); u2=$(free_udp_port)
    [[ $unordered == 1 ]] && { flag="--unordered"; uflag="unordered"; }
    capture_start "$name" "$u1" "$u2"
    "$SCTP_PERF" --server --once --echo --port 5001 --udp-port "$u1" --peer-udp-port "$u2" --json \
        >"$WORK/$name.server" 2>"$WORK/$name.server.err" &
    local server=$!
    PIDS+=("$server")
    if ! wait_for 20 has_line "$WORK/$name.server" "listening"; then
        record FAIL "$name: sctp-perf server did not start: $(tail -1 "$WORK/$name.server.err")"; kill "$server"; return
    fi
    local rc=0
    timeout 120 "$PEER" client --bind 127.0.0.1 --udp-port "$u2" --peer-udp-port "$u1" --connect 127.0.0.1 --remote-port 5001 \
        --echo --timeout 30 --length "$length" --messages "$messages" --streams "$streams" $flag \
        >"$WORK/$name.client" 2>"$WORK/$name.client.err" || rc=$?
    local src=0
    if wait_for 30 exited "$server"; then wait "$server" || src=$?; else src=timeout; kill "$server" 2>/dev/null || true; fi
    local capture_ok=1
    capture_check "$name" "$u1" "$u2" || capture_ok=0
    local what="sctp-perf --echo server <- usrsctp-peer --echo, $messages x $length bytes ${uflag:-ordered} on $streams streams"
    local result; result=$(grep '^RESULT' "$WORK/$name.client" || true)
    if [[ $rc -ne 0 ]]; then
        record FAIL "$what: usrsctp-peer exited $rc: $(grep ERROR "$WORK/$name.client" "$WORK/$name.client.err" | head -1)"
    elif [[ $src != 0 ]]; then
        record FAIL "$what: sctp-perf server exited $src: $(tail -1 "$WORK/$name.server.err")"
    elif [[ $result != *"messages_received=$messages "* || $result != *"verify_errors=0 "* || $result != *"echo_mismatches=0 "* ]]; then
        record FAIL "$what: usrsctp-peer says $result"
    elif [[ $(json_field "$WORK/$name.server" echoed) != "$messages" ]]; then
        record FAIL "$what: we echoed $(json_field "$WORK/$name.server" echoed)"
    elif [[ $capture_ok == 0 ]]; then
        record FAIL "$what: bad packets in the capture"
    else
        record ok "$what: all echoed and verified both sides, $(printf '%.1f' "$(json_field "$WORK/$name.server" mbps)") Mbit/s"
    fi
}

# Benchmark at 1200 bytes: Mbit/s as the receiving side counts it. tsctp fills a 1500-byte
# frame (one 1200-byte message per packet); sctp-perf's default SCTP packet is 1200 bytes
# (each message in two chunks, two packets), hence the rows with --mtu 1472 too.
bench_pair() {  # LABEL SENDER(tsctp|perf) RECEIVER(tsctp|perf) [sctp-perf options...]
    local label=$1 sender=$2 receiver=$3 t=5 u1 u2 port server out=""
    shift 3
    u1=$(free_udp_port); u2=$(free_udp_port); port=$((5001 + RANDOM % 1000))
    if [[ $receiver == tsctp ]]; then
        "${TSCTP_RUN[@]}" -E "$u1" -U "$u2" -L 127.0.0.1 -p "$port" >"$WORK/bench.server" 2>&1 &
        server=$!; PIDS+=("$server")
        wait_for 10 udp_bound "$u1" || true
    else
        "$SCTP_PERF" --server --once --port "$port" --udp-port "$u1" --peer-udp-port "$u2" --json "$@" >"$WORK/bench.server" 2>&1 &
        server=$!; PIDS+=("$server")
        wait_for 20 has_line "$WORK/bench.server" listening || true
    fi
    if [[ $sender == tsctp ]]; then
        "${TSCTP_RUN[@]}" -D -E "$u2" -U "$u1" -L 127.0.0.1 -p "$port" -l 1200 -T "$t" 127.0.0.1 >/dev/null 2>&1 || true
    else
        "$SCTP_PERF" --client 127.0.0.1 --port "$port" --udp-port "$u2" --peer-udp-port "$u1" --time "$t" --json "$@" >/dev/null 2>&1 || true
    fi
    if [[ $receiver == tsctp ]]; then
        wait_for 30 has_line "$WORK/bench.server" '^[0-9]+, [0-9]+, ' || true
        kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
        out=$(grep -E '^[0-9]+, [0-9]+, ' "$WORK/bench.server" | tail -1 | awk -F', ' '{printf "%.1f", $6 * 8 / 1e6}')
    else
        wait_for 30 exited "$server" || kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        out=$(json_field "$WORK/bench.server" mbps)
        [[ -n $out ]] && out=$(printf '%.1f' "$out")
    fi
    printf '%-40s %10s\n' "$label" "${out:-FAIL}"
}

bench() {
    printf '%-40s %10s\n' "pair (sender -> receiver), 1200 bytes" "Mbit/s"
    bench_pair "tsctp -> tsctp" tsctp tsctp
    bench_pair "sctp-perf -> sctp-perf" perf perf
    bench_pair "sctp-perf -> sctp-perf (--mtu 1472)" perf perf --mtu 1472
    bench_pair "sctp-perf -> tsctp" perf tsctp
    bench_pair "sctp-perf (--mtu 1472) -> tsctp" perf tsctp --mtu 1472
    bench_pair "tsctp -> sctp-perf" tsctp perf
}

if [[ $BENCH == 1 ]]; then
    bench
    exit 0
fi

for length in $SIZES; do
    for unordered in 0 1; do
        # usrsctp 0.9.5 corrupts its heap on unordered messages above 64 KiB (INTEROP.md).
        if [[ $unordered == 1 && $length -gt 65536 ]]; then continue; fi
        run_a "$length" "$unordered"
        run_b "$length" "$unordered"
    done
done

if [[ $ECHO == 1 ]]; then
    PEER=$WORK/usrsctp-peer
    if "$HERE/build-peer.sh" "$PEER" >"$WORK/build-peer.log" 2>&1; then
        for spec in "1200 0 20000 3" "8000 1 3000 2" "65000 1 200 1" "300000 0 40 1" "100 0 20000 5"; do
            read -r length unordered messages streams <<<"$spec"
            run_e1 "$length" "$unordered" "$messages" "$streams"
            run_e2 "$length" "$unordered" "$messages" "$streams"
        done
    else
        log "cannot build usrsctp-peer (cc and libusrsctp-dev needed): two-way runs skipped: $(tail -1 "$WORK/build-peer.log")"
    fi
fi

echo
for line in "${RESULTS[@]}"; do echo "$line"; done
if [[ $FAILURES -gt 0 ]]; then
    echo "$FAILURES run(s) failed" >&2
    exit 1
fi
echo "all ${#RESULTS[@]} runs passed"
