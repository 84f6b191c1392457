# Shell helpers shared by Benchmarks/run.sh and scripts/interop/tsctp-check.sh (sourced,
# not run). Every wait is bounded.

# A free UDP port on 127.0.0.1 (bound to port 0 and closed again; without python3, a
# random port that ss shows unbound, at most 1000 tries).
free_udp_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port tries
    for tries in $(seq 1000); do
        port=$((20000 + RANDOM % 40000))
        [[ -z $(ss -Hnul "sport = :$port") ]] && { echo "$port"; return 0; }
    done
    return 1
}

# wait_for SECONDS COMMAND...: runs COMMAND until it succeeds or the deadline passes.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [[ $SECONDS -ge $deadline ]] && return 1
        sleep 0.05
    done
}

# udp_bound PORT: something listens on UDP PORT.
udp_bound() { [[ -n $(ss -Hnul "sport = :$1") ]]; }
# has_line FILE REGEX: FILE has a line matching REGEX.
has_line() { grep -qE "$2" "$1" 2>/dev/null; }
# exited PID: the process is gone.
exited() { ! kill -0 "$1" 2>/dev/null; }
