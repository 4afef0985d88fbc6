# shellcheck shell=bash
# Helpers shared by the scripts in deploy/ and tests/. Sourced, not run.
# The caller sets PROG (the name its messages start with).

note() { printf '%s: %s\n' "${PROG:-branchline}" "$*" >&2; }
die() { note "error: $*"; exit 1; }

# Runs a command with its output held back, and shows the output only if the
# command fails.
quietly() {
    local out rc=0
    out=$(mktemp)
    "$@" >"$out" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]]; then
        cat "$out" >&2
    fi
    rm -f "$out"
    return "$rc"
}

# Prints a TCP port on 127.0.0.1 that was free a moment ago. The kernel picks
# it, so two scripts running at once do not collide the way a scan would.
free_tcp_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Runs a command as root: directly when we are root, else through sudo, which
# must not ask for a password (scripts here never prompt).
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo -n "$@" || die "'sudo -n $1' failed; run this script as root or configure passwordless sudo"
    else
        die "need root to run '$1', and sudo is not installed; run this script as root"
    fi
}
