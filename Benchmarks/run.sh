#!/usr/bin/env bash
# swift-sctp against usrsctp, in one session, on loopback over UDP encapsulation (RFC 6951).
# See Benchmarks/README.md for what each figure means.
#
#   Benchmarks/run.sh                       # everything: about 7 minutes on 2 cores
#   Benchmarks/run.sh --rounds 2 --time 2   # shorter
#   Benchmarks/run.sh --only throughput     # one part: throughput|rate64|setup|rtt|memory|idata|auth|loss|shards
#
# It builds (release) the root package's sctp-perf and the Benchmarks package's
# MemoryBenchmark, and with cc: the usrsctp no-debug shim (scripts/interop/usrsctp-nodebug.c),
# Benchmarks/tools/usrsctp-bench.c, Benchmarks/tools/udp-ceiling.c and
# Benchmarks/tools/lossy-relay.c. Then, alternating A (usrsctp) and B (ours) for every
# configuration, --rounds times each, it measures:
#   1. throughput: tsctp -> tsctp vs sctp-perf --client -> sctp-perf --server, message
#      lengths 100, 1200, 8000, 65000, ordered and unordered, with plain UDP ceilings at the
#      same datagram size (sendmmsg/recvmmsg; UDP GSO + GRO);
#   2. messages per second of 64- and 100-byte messages (same pairs; RATE_LENGTHS);
#   3. association setup rate (one client against a one-to-many server): serial (one
#      association after another) and with --setup-concurrency K associations in flight;
#   4. echo round-trip time p50/p99 (64 bytes, one message outstanding);
#   5. memory per idle association with 10,000 associations;
#   6. I-DATA against DATA (ours only, RFC 8260 §2): sctp-perf with and without
#      --interleaving on both ends, 1200- and 8000-byte ordered messages on 4 streams;
#   7. AUTH on DATA and SACK against no AUTH (ours only, RFC 4895): sctp-perf with --auth
#      (HMAC-SHA-1, then HMAC-SHA-256) on both ends, 1200- and 8000-byte ordered messages;
#   8. goodput under loss: the throughput pairs through lossy-relay (a UDP relay dropping
#      datagrams both ways from a seeded PRNG) at 0 %, 1 % and 5 % loss, 1200- and
#      65000-byte ordered messages (LOSS_RATES="0 0.01 0.05", LOSS_LENGTHS="1200 65000");
#   9. scaling over event loops: sctp-perf --shards 1 and 2 (one process, both ends), two
#      associations and the setup rate of 64 clients at once; usrsctp as two tsctp pairs
#      (SHARD_LENGTH, default 1200; SHARD_SETUP_CLIENTS, default 64).
# Each table cell is the MEDIAN of the rounds (runs that failed are left out and counted).
#
# Options: --rounds R (default 3), --time S (seconds per throughput/rtt run, default 3),
#          --sizes "L ..." (default "100 1200 8000 65000"), --only PART, --assocs N (memory,
#          default 10000), --setup N (associations per setup-rate run, default 5000),
#          --setup-concurrency K (associations in flight in the pipelined setup rows, default 16),
#          --setup-pipelined N (associations per pipelined setup run, default 20000),
#          --loss-time S (seconds per loss run, default 5),
#          --keep (keep the work directory with every run's output), --out FILE (also write
#          the tables to FILE).
# Env:     TSCTP (default /usr/lib/usrsctp/tsctp), SCTP_PERF / MEMORY_BENCHMARK (built
#          binaries to use instead of building), LOSS_RATES / LOSS_LENGTHS (the loss part),
#          IDATA_LENGTHS, AUTH_LENGTHS, SHARD_LENGTH, RATE_LENGTHS (the rate64 part, default "64 100").
# Needs: swift, cc, libusrsctp-dev and libusrsctp-examples (apt-get install -y libusrsctp-dev
# libusrsctp-examples), python3 (free ports), ss (iproute2). No root needed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ROUNDS=3
TIME=3
SIZES="100 1200 8000 65000"
ONLY=""
ASSOCS=10000
SETUP=5000
SETUP_K=16
SETUP_PIPELINED=20000
LOSS_TIME=5
KEEP=0
OUT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --time) TIME=$2; shift 2 ;;
        --sizes) SIZES=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --assocs) ASSOCS=$2; shift 2 ;;
        --setup) SETUP=$2; shift 2 ;;
        --setup-concurrency) SETUP_K=$2; shift 2 ;;
        --setup-pipelined) SETUP_PIPELINED=$2; shift 2 ;;
        --loss-time) LOSS_TIME=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,46p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || { echo "--rounds: 1...99" >&2; exit 2; }
[[ $TIME =~ ^[1-9][0-9]?$ ]] || { echo "--time: whole seconds, 1...99" >&2; exit 2; }
[[ $ASSOCS =~ ^[1-9][0-9]{0,4}$ ]] || { echo "--assocs: 1...99999" >&2; exit 2; }
[[ $SETUP =~ ^[1-9][0-9]{0,5}$ ]] || { echo "--setup: 1...999999" >&2; exit 2; }
[[ $SETUP_K =~ ^[1-9][0-9]{0,2}$ ]] || { echo "--setup-concurrency: 1...999" >&2; exit 2; }
[[ $SETUP_PIPELINED =~ ^[1-9][0-9]{0,5}$ ]] || { echo "--setup-pipelined: 1...999999" >&2; exit 2; }
[[ $LOSS_TIME =~ ^[1-9][0-9]?$ ]] || { echo "--loss-time: whole seconds, 1...99" >&2; exit 2; }

TSCTP=${TSCTP:-/usr/lib/usrsctp/tsctp}
WORK=$(mktemp -d /tmp/sctp-bench.XXXXXX)
PIDS=()
log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ $KEEP == 1 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

want() { [[ -z $ONLY || $ONLY == "$1" ]]; }

# ---------------------------------------------------------------- build

[[ -x $TSCTP ]] || { log "tsctp not found at $TSCTP (apt-get install libusrsctp-examples)"; exit 2; }
command -v cc >/dev/null || { log "no C compiler (cc)"; exit 2; }
command -v python3 >/dev/null || { log "python3 is needed (free ports)"; exit 2; }

if [[ -z ${SCTP_PERF:-} ]]; then
    log "building sctp-perf (release)"
    (cd "$ROOT" && swift build -c release --product sctp-perf >"$WORK/build-perf.log" 2>&1) \
        || { tail -20 "$WORK/build-perf.log" >&2; exit 2; }
    SCTP_PERF="$ROOT/.build/release/sctp-perf"
fi
if want memory && [[ -z ${MEMORY_BENCHMARK:-} ]]; then
    log "building MemoryBenchmark (release)"
    (cd "$ROOT" && swift build -c release --package-path Benchmarks --product MemoryBenchmark >"$WORK/build-memory.log" 2>&1) \
        || { tail -20 "$WORK/build-memory.log" >&2; exit 2; }
    MEMORY_BENCHMARK="$ROOT/Benchmarks/.build/release/MemoryBenchmark"
fi
log "building the C programs"
SHIM_SRC=$ROOT/scripts/interop/usrsctp-nodebug.c
cc -shared -fPIC -O2 "$SHIM_SRC" -o "$WORK/nodebug.so" -ldl
cc -O2 -Wall -o "$WORK/usrsctp-bench" "$HERE/tools/usrsctp-bench.c" -lusrsctp -lpthread
cc -O2 -Wall -o "$WORK/udp-ceiling" "$HERE/tools/udp-ceiling.c" -lpthread
cc -O2 -Wall -o "$WORK/lossy-relay" "$HERE/tools/lossy-relay.c"
UB=$WORK/usrsctp-bench
UC=$WORK/udp-ceiling
LR=$WORK/lossy-relay
# env execs tsctp, so that $! of a background run is tsctp's own pid.
TSCTP_RUN=(env LD_PRELOAD="$WORK/nodebug.so" "$TSCTP")

# ---------------------------------------------------------------- helpers

. "$ROOT/scripts/lib/run-helpers.sh"  # free_udp_port, wait_for, udp_bound, has_line, exited
json_field() { sed -n 's/.*"'"$2"'": \("\{0,1\}[^",}]*\).*/\1/p' "$1" | tail -1 | tr -d '"'; }
stop() {  # PID: ends a server of ours (bounded)
    kill "$1" 2>/dev/null || true
    wait_for 5 exited "$1" || kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Results: one line per run in $WORK/results: KEY VALUE (VALUE "FAIL" when the run failed).
record() { echo "$1 $2" >>"$WORK/results"; log "$1 = $2"; }

# The median of a key's successful runs (FAIL when none); "(k/n)" appended when some failed.
median() {
    local key=$1 decimals=${2:-1}
    python3 - "$WORK/results" "$key" "$decimals" <<'EOF'
import sys, statistics
path, key, decimals = sys.argv[1], sys.argv[2], int(sys.argv[3])
values, total = [], 0
try:
    for line in open(path):
        k, _, v = line.strip().partition(" ")
        if k != key:
            continue
        total += 1
        try:
            values.append(float(v))
        except ValueError:
            pass
except FileNotFoundError:
    pass
if not values:
    print("FAIL" if total else "-")
else:
    text = f"{statistics.median(values):.{decimals}f}"
    if len(values) < total:
        text += f" ({len(values)}/{total} ok)"
    print(text)
EOF
}
ratio() {  # A B -> B/A with 2 decimals, or "-"
    python3 -c 'import sys
try:
    a = float(sys.argv[1].split()[0]); b = float(sys.argv[2].split()[0]); print(f"{b / a:.2f}")
except Exception:
    print("-")' "$1" "$2"
}

# ---------------------------------------------------------------- runs

# Loss runs: RELAY_LOSS (a probability, 0...1) set puts lossy-relay between the two ends of
# run_tsctp / run_perf: the client sends to the relay's left port, the server to its right
# port. relay_start U_CLIENT U_SERVER NAME sets TO_SERVER / TO_CLIENT (the UDP ports each end
# sends to) and RELAY (the relay's pid, empty without a relay); relay_stop ends it.
RELAY_LOSS=""
RELAY_SEED=1
RELAY=""
relay_start() {
    local uc=$1 us=$2 name=$3 rl rr
    TO_SERVER=$us; TO_CLIENT=$uc; RELAY=""
    [[ -z $RELAY_LOSS ]] && return 0
    rl=$(free_udp_port); rr=$(free_udp_port)
    "$LR" --left-port "$rl" --left-peer "$uc" --right-port "$rr" --right-peer "$us" --loss "$RELAY_LOSS" \
        --seed "$RELAY_SEED" --time $((TIME + 150)) >"$WORK/$name.relay" 2>&1 &
    RELAY=$!; PIDS+=("$RELAY")
    wait_for 10 has_line "$WORK/$name.relay" READY || return 1
    TO_SERVER=$rl; TO_CLIENT=$rr
}
relay_stop() { [[ -n $RELAY ]] && stop "$RELAY"; RELAY=""; }

# A: tsctp -> tsctp. Sets MBPS and MPS (receiver side), empty on failure.
run_tsctp() {  # LENGTH UNORDERED
    local length=$1 unordered=$2 u1 u2 port server flag="" name="tsctp-$1-$2-$RANDOM"
    u1=$(free_udp_port); u2=$(free_udp_port); port=$((5001 + RANDOM % 1000))
    [[ $unordered == 1 ]] && flag="-u"
    MBPS=""; MPS=""
    relay_start "$u2" "$u1" "$name" || { relay_stop; return; }
    "${TSCTP_RUN[@]}" -E "$u1" -U "$TO_CLIENT" -L 127.0.0.1 -p "$port" >"$WORK/$name.server" 2>&1 &
    server=$!; PIDS+=("$server")
    if wait_for 10 udp_bound "$u1"; then
        timeout $((TIME + 30)) "${TSCTP_RUN[@]}" -D -E "$u2" -U "$TO_SERVER" -L 127.0.0.1 -p "$port" -l "$length" -T "$TIME" $flag \
            127.0.0.1 >"$WORK/$name.client" 2>&1 || true
        # "length, messages, recv calls, bytes, seconds, bytes/s, notifications" when the association ends.
        if wait_for 20 has_line "$WORK/$name.server" '^[0-9]+, [0-9]+, [0-9]+, [0-9]+, '; then
            local line
            line=$(grep -E '^[0-9]+, [0-9]+, [0-9]+, [0-9]+, ' "$WORK/$name.server" | tail -1)
            MBPS=$(echo "$line" | awk -F', ' '{ if ($5 > 0) printf "%.1f", $4 * 8 / $5 / 1e6 }')
            MPS=$(echo "$line" | awk -F', ' '{ if ($5 > 0) printf "%.0f", $2 / $5 }')
        fi
    fi
    stop "$server"
    relay_stop
}

# B: sctp-perf --client -> sctp-perf --server --once, SCTP packets of 1472 bytes like tsctp's.
run_perf() {  # LENGTH UNORDERED [EXTRA CLIENT ARGS...; --interleaving goes to both ends]
    local length=$1 unordered=$2 u1 u2 port server flag="" name="perf-$1-$2-$RANDOM" serverflag=""
    shift 2
    u1=$(free_udp_port); u2=$(free_udp_port); port=$((5001 + RANDOM % 1000))
    [[ $unordered == 1 ]] && flag="--unordered"
    [[ " $* " == *" --interleaving "* ]] && serverflag="--interleaving"
    [[ " $* " == *" --auth "* ]] && serverflag="$serverflag --auth"
    [[ " $* " == *" --hmac sha1 "* ]] && serverflag="$serverflag --hmac sha1"
    [[ " $* " == *" --hmac sha256 "* ]] && serverflag="$serverflag --hmac sha256"
    flag="$flag $*"
    MBPS=""; MPS=""; RTX=""
    relay_start "$u2" "$u1" "$name" || { relay_stop; return; }
    "$SCTP_PERF" --server --once --port "$port" --udp-port "$u1" --peer-udp-port "$TO_CLIENT" --mtu 1472 --json $serverflag \
        >"$WORK/$name.server" 2>"$WORK/$name.server.err" &
    server=$!; PIDS+=("$server")
    if wait_for 20 has_line "$WORK/$name.server" listening; then
        timeout $((TIME + 60)) "$SCTP_PERF" --client 127.0.0.1 --port "$port" --udp-port "$u2" --peer-udp-port "$TO_SERVER" \
            --length "$length" --time "$TIME" $flag --mtu 1472 --json >"$WORK/$name.client" 2>"$WORK/$name.client.err" || true
        if wait_for 30 exited "$server" && [[ $(json_field "$WORK/$name.server" ended) == shutdown ]]; then
            MBPS=$(printf '%.1f' "$(json_field "$WORK/$name.server" mbps)")
            MPS=$(printf '%.0f' "$(json_field "$WORK/$name.server" messages_per_second)")
            RTX=$(json_field "$WORK/$name.client" retransmissions)
        fi
    fi
    stop "$server"
    relay_stop
}

# The SCTP packet one message makes (common header 12, DATA header 16, padding), at most
# 1472 bytes: the datagram size the UDP ceilings are measured at.
datagram_size() { local s=$((28 + ($1 + 3) / 4 * 4)); echo $((s > 1472 ? 1472 : s)); }

run_udp() {  # SIZE MODE -> sets MBPS
    MBPS=$(timeout $((TIME + 20)) "$UC" --size "$1" --time "$TIME" --mode "$2" 2>>"$WORK/udp.err" \
        | sed -n 's/.*"mbps": \([0-9.]*\).*/\1/p' || true)
}

throughput() {
    local length unordered round size
    for length in $SIZES; do
        for unordered in 0 1; do
            size=$(datagram_size "$length")
            for round in $(seq "$ROUNDS"); do
                log "throughput $length B $([[ $unordered == 1 ]] && echo unordered || echo ordered), round $round"
                run_tsctp "$length" "$unordered"; record "tp.$length.$unordered.usrsctp" "${MBPS:-FAIL}"
                run_perf "$length" "$unordered"; record "tp.$length.$unordered.ours" "${MBPS:-FAIL}"
            done
        done
        for round in $(seq "$ROUNDS"); do
            run_udp "$size" mmsg; record "udp.$length.mmsg" "${MBPS:-FAIL}"
            run_udp "$size" gso-gro; record "udp.$length.gso" "${MBPS:-FAIL}"
        done
    done
}

# Messages per second of small ordered messages, RATE_LENGTHS bytes (default 64 and 100).
RATE_LENGTHS=${RATE_LENGTHS:-"64 100"}
rate64() {
    local round length
    for length in $RATE_LENGTHS; do
        for round in $(seq "$ROUNDS"); do
            log "$length-byte messages, round $round"
            run_tsctp "$length" 0; record "mps$length.usrsctp" "${MPS:-FAIL}"
            run_perf "$length" 0; record "mps$length.ours" "${MPS:-FAIL}"
        done
    done
}

# Association setup rate: A usrsctp-bench setup -> usrsctp-bench server (one-to-many);
# B sctp-perf --client --setup-rate -> sctp-perf --server --quiet (one endpoint, many associations;
# like usrsctp-bench's server, no line per association), with the client driven two ways:
# --setup-api events (connect and abort issued on the event loop) and socket (blocking
# SCTPSocket calls, each a hop to the event loop and back).
# Serial (K = 1): one association after another; usrsctp's blocking loop against both of ours.
# Pipelined (K = SETUP_K associations in flight, each completion starting the next):
# usrsctp-bench --api nonblocking (K non-blocking sockets, upcalls, one thread) against ours
# with --setup-api events; usrsctp-bench --api threads (K threads of the blocking loop)
# against ours with --setup-api socket (K threads, each its own SCTPSocket).
setup_usrsctp() {  # NAME K API COUNT -> sets RATE
    local name=$1 k=$2 api=$3 n=$4 u1 u2 port server
    u1=$(free_udp_port); u2=$(free_udp_port); port=$((6001 + RANDOM % 1000))
    timeout $((TIME * 10 + 30)) "$UB" server --bind 127.0.0.1 --port "$port" --udp-port "$u1" --peer-udp-port "$u2" \
        --time $((TIME * 10 + 10)) >"$WORK/$name.server" 2>&1 &
    server=$!; PIDS+=("$server")
    RATE=""
    if wait_for 10 has_line "$WORK/$name.server" READY; then
        timeout $((TIME * 10 + 20)) "$UB" setup --bind 127.0.0.1 --connect 127.0.0.1 --remote-port "$port" --udp-port "$u2" \
            --peer-udp-port "$u1" --count "$n" --time $((TIME * 10)) --concurrency "$k" --api "$api" \
            >"$WORK/$name.client" 2>&1 || true
        RATE=$(json_field "$WORK/$name.client" per_second)
    fi
    stop "$server"
}
setup_ours() {  # NAME K API COUNT -> sets RATE
    local name=$1 k=$2 api=$3 n=$4 u1 u2 port server
    u1=$(free_udp_port); u2=$(free_udp_port); port=$((6001 + RANDOM % 1000))
    "$SCTP_PERF" --server --quiet --port "$port" --udp-port "$u1" --peer-udp-port "$u2" \
        >"$WORK/$name.server" 2>"$WORK/$name.server.err" &
    server=$!; PIDS+=("$server")
    RATE=""
    if wait_for 20 has_line "$WORK/$name.server" listening; then
        timeout $((TIME * 10 + 20)) "$SCTP_PERF" --client 127.0.0.1 --port "$port" --udp-port "$u2" --peer-udp-port "$u1" \
            --setup-rate "$n" --setup-api "$api" --setup-concurrency "$k" --time $((TIME * 10)) --json \
            >"$WORK/$name.client" 2>"$WORK/$name.client.err" || true
        RATE=$(json_field "$WORK/$name.client" per_second)
    fi
    stop "$server"
}
setup_rate() {
    local round
    for round in $(seq "$ROUNDS"); do
        log "setup rate, serial, round $round"
        setup_usrsctp "setup-usrsctp-$round" 1 threads "$SETUP"; record "setup.usrsctp" "${RATE:-FAIL}"
        setup_ours "setup-ours-events-$round" 1 events "$SETUP"; record "setup.ours.events" "${RATE:-FAIL}"
        setup_ours "setup-ours-socket-$round" 1 socket "$SETUP"; record "setup.ours.socket" "${RATE:-FAIL}"
        log "setup rate, $SETUP_K in flight, round $round"
        setup_usrsctp "setupk-usrsctp-nb-$round" "$SETUP_K" nonblocking "$SETUP_PIPELINED"
        record "setupk.usrsctp.nonblocking" "${RATE:-FAIL}"
        setup_ours "setupk-ours-events-$round" "$SETUP_K" events "$SETUP_PIPELINED"; record "setupk.ours.events" "${RATE:-FAIL}"
        setup_usrsctp "setupk-usrsctp-threads-$round" "$SETUP_K" threads "$SETUP_PIPELINED"
        record "setupk.usrsctp.threads" "${RATE:-FAIL}"
        setup_ours "setupk-ours-socket-$round" "$SETUP_K" socket "$SETUP_PIPELINED"; record "setupk.ours.socket" "${RATE:-FAIL}"
    done
}

# Echo round trip, 64 bytes, one outstanding: A usrsctp-bench rtt -> usrsctp-bench server --echo;
# B sctp-perf --client --latency -> sctp-perf --server --echo --once.
rtt() {
    local round u1 u2 port server name
    for round in $(seq "$ROUNDS"); do
        log "echo round trip, round $round"
        name="rtt-usrsctp-$round"; u1=$(free_udp_port); u2=$(free_udp_port); port=$((7001 + RANDOM % 1000))
        timeout $((TIME + 30)) "$UB" server --echo --bind 127.0.0.1 --port "$port" --udp-port "$u1" --peer-udp-port "$u2" \
            --time $((TIME + 20)) >"$WORK/$name.server" 2>&1 &
        server=$!; PIDS+=("$server")
        local p50="" p99=""
        if wait_for 10 has_line "$WORK/$name.server" READY; then
            timeout $((TIME + 20)) "$UB" rtt --bind 127.0.0.1 --connect 127.0.0.1 --remote-port "$port" --udp-port "$u2" \
                --peer-udp-port "$u1" --length 64 --count 10000000 --time "$TIME" >"$WORK/$name.client" 2>&1 || true
            p50=$(json_field "$WORK/$name.client" p50_us); p99=$(json_field "$WORK/$name.client" p99_us)
        fi
        stop "$server"
        record "rtt50.usrsctp" "${p50:-FAIL}"; record "rtt99.usrsctp" "${p99:-FAIL}"

        name="rtt-ours-$round"; u1=$(free_udp_port); u2=$(free_udp_port); port=$((7001 + RANDOM % 1000))
        "$SCTP_PERF" --server --once --echo --port "$port" --udp-port "$u1" --peer-udp-port "$u2" --json \
            >"$WORK/$name.server" 2>"$WORK/$name.server.err" &
        server=$!; PIDS+=("$server")
        p50=""; p99=""
        if wait_for 20 has_line "$WORK/$name.server" listening; then
            timeout $((TIME + 30)) "$SCTP_PERF" --client 127.0.0.1 --port "$port" --udp-port "$u2" --peer-udp-port "$u1" \
                --latency --length 64 --time "$TIME" --json >"$WORK/$name.client" 2>"$WORK/$name.client.err" || true
            p50=$(json_field "$WORK/$name.client" p50_us); p99=$(json_field "$WORK/$name.client" p99_us)
        fi
        stop "$server"
        record "rtt50.ours" "${p50:-FAIL}"; record "rtt99.ours" "${p99:-FAIL}"
    done
}

# Memory per idle association: heap growth (glibc mallinfo2) of a server process while ASSOCS
# associations are up, divided by ASSOCS. The client is the same for both servers,
# `usrsctp-bench hold` (one-to-one sockets, kept open). A: usrsctp-bench server --memory
# (a one-to-many socket); B: MemoryBenchmark --udp-server (UDPEncapsulationEndpoint, what
# sctp-perf --server runs). Also: MemoryBenchmark over the in-memory link (the core alone).
memory_udp() {  # NAME SERVER-COMMAND... -> sets VALUE
    local name=$1 u1 u2 port server holder
    shift
    u1=$(free_udp_port); u2=$(free_udp_port); port=$((8001 + RANDOM % 1000))
    VALUE=""; WITH_ENDPOINT=""; MARGINAL=""
    timeout 150 "$@" --port "$port" --udp-port "$u1" --peer-udp-port "$u2" --assocs "$ASSOCS" --time 120 \
        >"$WORK/$name.server" 2>"$WORK/$name.server.err" &
    server=$!; PIDS+=("$server")
    if wait_for 20 has_line "$WORK/$name.server" READY; then
        # hold keeps its sockets open until killed (its watchdog ends it after --time + 5 s).
        "$UB" hold --bind 127.0.0.1 --connect 127.0.0.1 --remote-port "$port" --udp-port "$u2" \
            --peer-udp-port "$u1" --count "$ASSOCS" --time 120 </dev/null >"$WORK/$name.client" 2>&1 &
        holder=$!; PIDS+=("$holder")
        wait_for 130 has_line "$WORK/$name.server" heap_per_association || true
        VALUE=$(json_field "$WORK/$name.server" heap_per_association)
        WITH_ENDPOINT=$(json_field "$WORK/$name.server" heap_per_association_with_endpoint)
        MARGINAL=$(json_field "$WORK/$name.server" heap_per_association_marginal)
        stop "$holder"
    fi
    stop "$server"
}

memory() {
    local round value
    for round in $(seq "$ROUNDS"); do
        log "memory per idle association ($ASSOCS associations), round $round"
        memory_udp "mem-usrsctp-$round" "$UB" server --memory --bind 127.0.0.1
        record "mem.usrsctp" "${VALUE:-FAIL}"
        record "mem.usrsctp.marginal" "${MARGINAL:-FAIL}"
        memory_udp "mem-ours-$round" "$MEMORY_BENCHMARK" --udp-server
        record "mem.ours" "${VALUE:-FAIL}"
        record "mem.ours.with_endpoint" "${WITH_ENDPOINT:-FAIL}"
        record "mem.ours.marginal" "${MARGINAL:-FAIL}"
        value=$(timeout 300 "$MEMORY_BENCHMARK" "$ASSOCS" --json 2>"$WORK/mem-core-$round.err" \
            | sed -n 's/.*"server_heap_per_association": \([0-9.]*\).*/\1/p' || true)
        record "mem.core" "${value:-FAIL}"
    done
}

log "work directory $WORK; $ROUNDS rounds, $TIME s per run"
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
want throughput && throughput
want rate64 && rate64

# I-DATA against DATA, both ours (usrsctp's tsctp has no switch for it).
IDATA_LENGTHS=${IDATA_LENGTHS:-"1200 8000"}
idata() {
    local round length
    for length in $IDATA_LENGTHS; do
        for round in $(seq "$ROUNDS"); do
            log "I-DATA vs DATA, $length B on 4 streams, round $round"
            run_perf "$length" 0 --streams 4; record "idata.$length.data" "${MBPS:-FAIL}"
            run_perf "$length" 0 --streams 4 --interleaving; record "idata.$length.idata" "${MBPS:-FAIL}"
        done
    done
}
want idata && idata

# AUTH (RFC 4895) on DATA and SACK against no AUTH, both ours.
AUTH_LENGTHS=${AUTH_LENGTHS:-"1200 8000"}
auth() {
    local round length
    for length in $AUTH_LENGTHS; do
        for round in $(seq "$ROUNDS"); do
            log "AUTH vs none, $length B, round $round"
            run_perf "$length" 0; record "auth.$length.none" "${MBPS:-FAIL}"
            run_perf "$length" 0 --auth --hmac sha1; record "auth.$length.sha1" "${MBPS:-FAIL}"
            run_perf "$length" 0 --auth --hmac sha256; record "auth.$length.sha256" "${MBPS:-FAIL}"
        done
    done
}
want auth && auth

# Scaling over event loops (docs/SHARDING.md), ours in one process: a server sharded over N
# loops and clients on the same loops (sctp-perf --shards N), N = 1 and 2: two associations
# of SHARD_LENGTH-byte messages, and the setup rate of SHARD_SETUP_CLIENTS clients at once
# (64: each loop needs handshakes enough in flight to stay busy). usrsctp beside it: two
# tsctp pairs at once (two associations, four processes), their sum.
SHARD_LENGTH=${SHARD_LENGTH:-1200}
SHARD_SETUP_CLIENTS=${SHARD_SETUP_CLIENTS:-64}
run_sharded() {  # SHARDS JSON-KEY [ARGS...] -> VALUE
    local n=$1 key=$2 name="sharded-$1-$RANDOM"
    shift 2
    VALUE=""
    timeout $((TIME + 60)) "$SCTP_PERF" --shards "$n" --time "$TIME" --json "$@" >"$WORK/$name" 2>"$WORK/$name.err" || true
    VALUE=$(json_field "$WORK/$name" "$key")
}
two_tsctp() {  # LENGTH -> MBPS: two tsctp pairs at once, the sum of what their servers counted
    local a b pa pb
    rm -f "$WORK/two-a" "$WORK/two-b"
    ( run_tsctp "$1" 0; echo "${MBPS:-}" >"$WORK/two-a" ) &
    pa=$!
    ( run_tsctp "$1" 0; echo "${MBPS:-}" >"$WORK/two-b" ) &
    pb=$!
    wait "$pa" "$pb" || true
    a=$(cat "$WORK/two-a" 2>/dev/null || true); b=$(cat "$WORK/two-b" 2>/dev/null || true)
    MBPS=""
    if [[ -n $a && -n $b ]]; then MBPS=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", a + b }'); fi
}
shards() {
    local round
    for round in $(seq "$ROUNDS"); do
        log "scaling over event loops, round $round"
        two_tsctp "$SHARD_LENGTH"; record shards.tp.usrsctp2 "${MBPS:-FAIL}"
        run_sharded 1 mbps --associations 2 --length "$SHARD_LENGTH"; record shards.tp.ours1 "${VALUE:-FAIL}"
        run_sharded 2 mbps --associations 2 --length "$SHARD_LENGTH"; record shards.tp.ours2 "${VALUE:-FAIL}"
        run_sharded 1 setupsPerSecond --setup-clients "$SHARD_SETUP_CLIENTS"; record shards.setup.ours1 "${VALUE:-FAIL}"
        run_sharded 2 setupsPerSecond --setup-clients "$SHARD_SETUP_CLIENTS"; record shards.setup.ours2 "${VALUE:-FAIL}"
    done
}
want shards && shards
want setup && setup_rate

# Goodput under loss: the throughput pairs through lossy-relay, both directions dropped at
# each rate; the relay's seed is the round number (both stacks see the same sequence of draws).
LOSS_RATES=${LOSS_RATES:-"0 0.01 0.05"}
LOSS_LENGTHS=${LOSS_LENGTHS:-"1200 65000"}
loss() {
    local round length rate TIME=$LOSS_TIME
    for length in $LOSS_LENGTHS; do
        for rate in $LOSS_RATES; do
            for round in $(seq "$ROUNDS"); do
                log "goodput under loss: $length B, loss $rate, round $round"
                RELAY_LOSS=$rate; RELAY_SEED=$round
                run_tsctp "$length" 0; record "loss.$length.$rate.usrsctp" "${MBPS:-FAIL}"
                run_perf "$length" 0; record "loss.$length.$rate.ours" "${MBPS:-FAIL}"
                record "loss.$length.$rate.ours.rtx" "${RTX:-FAIL}"
                RELAY_LOSS=""
            done
        done
    done
}
want loss && loss
want rtt && rtt
want memory && memory

# ---------------------------------------------------------------- tables

{
    echo "swift-sctp vs usrsctp $(dpkg-query -W -f '${Version}' libusrsctp2 2>/dev/null || true), $STARTED, $(nproc) cores, $(uname -r)"
    echo "median of $ROUNDS rounds, A (usrsctp) and B (ours) alternating; $TIME s per throughput / round-trip run"
    echo "load average (1, 5, 15 min) at the start: $LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    if want throughput; then
        echo
        echo "Throughput, loopback, UDP encapsulation, receiver's count; SCTP packets up to 1472 bytes both sides"
        echo "(tsctp -D with debug output off vs sctp-perf --mtu 1472); UDP ceilings in Mbit/s of UDP payload at the"
        echo "datagram size one message makes (sendmmsg/recvmmsg, 64 per call; UDP GSO + GRO)"
        printf '%-7s %-9s %14s %12s %7s %6s %10s %12s\n' length order "usrsctp Mbit/s" "ours Mbit/s" ours/us dgram "UDP mmsg" "UDP GSO+GRO"
        for length in $SIZES; do
            for unordered in 0 1; do
                a=$(median "tp.$length.$unordered.usrsctp"); b=$(median "tp.$length.$unordered.ours")
                printf '%-7s %-9s %14s %12s %7s %6s %10s %12s\n' "$length" "$([[ $unordered == 1 ]] && echo unordered || echo ordered)" \
                    "$a" "$b" "$(ratio "$a" "$b")" "$(datagram_size "$length")" "$(median "udp.$length.mmsg")" "$(median "udp.$length.gso")"
            done
        done
    fi
    if want rate64; then
        echo
        echo "Small messages per second (ordered, receiver's count)"
        for length in $RATE_LENGTHS; do
            a=$(median "mps$length.usrsctp" 0); b=$(median "mps$length.ours" 0)
            printf '  %4s B   usrsctp (tsctp) %12s   ours (sctp-perf) %12s   ours/usrsctp %s\n' "$length" "$a" "$b" "$(ratio "$a" "$b")"
        done
    fi
    if want idata; then
        echo
        echo "I-DATA (RFC 8260 §2) against DATA, ours both ends, ordered messages on 4 streams, Mbit/s"
        for length in $IDATA_LENGTHS; do
            a=$(median "idata.$length.data" 0); b=$(median "idata.$length.idata" 0)
            printf '  %5s B   DATA %8s   I-DATA %8s   I-DATA/DATA %s\n' "$length" "$a" "$b" "$(ratio "$a" "$b")"
        done
    fi
    if want auth; then
        echo
        echo "AUTH (RFC 4895) on DATA and SACK against none, ours both ends, ordered messages, Mbit/s"
        for length in $AUTH_LENGTHS; do
            a=$(median "auth.$length.none" 0); b=$(median "auth.$length.sha1" 0); c=$(median "auth.$length.sha256" 0)
            printf '  %5s B   none %8s   HMAC-SHA-1 %8s (%s)   HMAC-SHA-256 %8s (%s)\n' "$length" "$a" "$b" "$(ratio "$a" "$b")" \
                "$c" "$(ratio "$a" "$c")"
        done
    fi
    if want shards; then
        echo
        echo "Scaling over event loops: ours in one process, a server sharded over N loops and the clients on the"
        echo "same loops (sctp-perf --shards N); usrsctp: two tsctp pairs at once, summed"
        a=$(median shards.tp.ours1); b=$(median shards.tp.ours2); c=$(median shards.tp.usrsctp2)
        printf '  2 associations, %s B, Mbit/s: ours 1 loop %10s   2 loops %10s   2/1 %s   usrsctp (2 pairs) %10s   ours 2 loops/usrsctp %s\n' \
            "$SHARD_LENGTH" "$a" "$b" "$(ratio "$a" "$b")" "$c" "$(ratio "$c" "$b")"
        a=$(median shards.setup.ours1 0); b=$(median shards.setup.ours2 0)
        printf '  setup rate, %s clients at once, associations/s: ours 1 loop %10s   2 loops %10s   2/1 %s\n' "$SHARD_SETUP_CLIENTS" "$a" "$b" \
            "$(ratio "$a" "$b")"
    fi
    if want setup; then
        echo
        echo "Association setup rate, associations/s (connect until up, then ABORT)"
        echo "serial, $SETUP one after another (usrsctp: blocking connect, one-to-one sockets):"
        a=$(median setup.usrsctp 0); b=$(median setup.ours.events 0); c=$(median setup.ours.socket 0)
        printf '  usrsctp %12s   ours (event-driven endpoint) %12s   ours/usrsctp %s\n' "$a" "$b" "$(ratio "$a" "$b")"
        printf '  %21s   ours (blocking SCTPSocket)   %12s   ours/usrsctp %s\n' "" "$c" "$(ratio "$a" "$c")"
        echo "$SETUP_PIPELINED with $SETUP_K in flight, each completion starting the next:"
        a=$(median setupk.usrsctp.nonblocking 0); b=$(median setupk.ours.events 0)
        printf '  usrsctp non-blocking + upcalls %12s   ours event-driven endpoint %12s   ours/usrsctp %s\n' "$a" "$b" "$(ratio "$a" "$b")"
        a=$(median setupk.usrsctp.threads 0); c=$(median setupk.ours.socket 0)
        printf '  usrsctp %3s blocking threads   %12s   ours %3s SCTPSocket threads %11s   ours/usrsctp %s\n' "$SETUP_K" "$a" \
            "$SETUP_K" "$c" "$(ratio "$a" "$c")"
    fi
    if want loss; then
        echo
        echo "Goodput under loss, Mbit/s as the receiver counts (ordered messages, $LOSS_TIME s, through lossy-relay: each"
        echo "datagram dropped with the given probability, both directions; tsctp -D vs sctp-perf --mtu 1472);"
        echo "rtx: DATA chunks our client retransmitted (median)"
        printf '  %-7s %-6s %14s %12s %8s %8s\n' length loss "usrsctp Mbit/s" "ours Mbit/s" ours/us rtx
        for length in $LOSS_LENGTHS; do
            for rate in $LOSS_RATES; do
                a=$(median "loss.$length.$rate.usrsctp"); b=$(median "loss.$length.$rate.ours")
                printf '  %-7s %-6s %14s %12s %8s %8s\n' "$length" "$(python3 -c "print(f'{float(\"$rate\")*100:g} %')")" \
                    "$a" "$b" "$(ratio "$a" "$b")" "$(median "loss.$length.$rate.ours.rtx" 0)"
            done
        done
    fi
    if want rtt; then
        echo
        echo "Echo round trip, 64 bytes, one message outstanding, microseconds"
        printf '  usrsctp p50 %8s  p99 %8s   ours p50 %8s  p99 %8s\n' "$(median rtt50.usrsctp)" "$(median rtt99.usrsctp)" \
            "$(median rtt50.ours)" "$(median rtt99.ours)"
    fi
    if want memory; then
        echo
        echo "Memory per idle association, server heap bytes (mallinfo2) with $ASSOCS associations up"
        echo "(server process over UDP on loopback, usrsctp clients holding the associations)"
        a=$(median mem.usrsctp 0); b=$(median mem.ours 0)
        printf '  usrsctp %10s   ours %10s   ours/usrsctp %s   ours, core alone over the in-memory link %s\n' \
            "$a" "$b" "$(ratio "$a" "$b")" "$(median mem.core 0)"
        echo "  (both servers' growth from their bound endpoint; ours with the endpoint's own start-up spread over the"
        printf '   associations, as measured before 2026-12-08: %s)\n' "$(median mem.ours.with_endpoint 0)"
        a=$(median mem.usrsctp.marginal 0); b=$(median mem.ours.marginal 0)
        printf '  marginal, from the %sth association on:  usrsctp %10s   ours %10s   ours/usrsctp %s\n' \
            "$((ASSOCS / 100))" "$a" "$b" "$(ratio "$a" "$b")"
    fi
    echo
    echo "Every run (key: values in order; tp.LENGTH.UNORDERED in Mbit/s):"
    python3 - "$WORK/results" <<'EOF'
import sys
runs = {}
for line in open(sys.argv[1]):
    key, _, value = line.strip().partition(" ")
    runs.setdefault(key, []).append(value)
for key, values in runs.items():
    print(f"  {key}: {' '.join(values)}")
EOF
} >"$WORK/table"
echo
cat "$WORK/table"
[[ -n $OUT ]] && cp "$WORK/table" "$OUT"
exit 0
