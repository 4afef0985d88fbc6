#!/usr/bin/env bash
# Usage: deploy/dev-certs.sh DIR [NAME...]
#
# Makes a development PKI for branchd's mutual TLS in DIR, with ECDSA P-256
# keys:
#   ca.crt, ca.key          a dev CA (10 years)
#   server.crt, server.key  CN=localhost, SAN localhost/127.0.0.1/::1, serverAuth
#   NAME.crt, NAME.key      one client certificate per NAME: CN=NAME, clientAuth
# Leaf certificates last 825 days. Existing files are kept, so running it again
# with more names adds clients under the same CA; a leaf that expires within
# 30 days is reissued. Never use these outside development.

# shellcheck source-path=SCRIPTDIR
set -euo pipefail
PROG=dev-certs
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

CA_DAYS=3650
LEAF_DAYS=825
RENEW_SECONDS=$((30 * 24 * 3600))

usage() { echo "usage: $0 DIR [NAME...]" >&2; exit 2; }

# One openssl configuration for every step, so the result does not depend on
# the system's openssl.cnf.
write_openssl_conf() {
    cat >"$1" <<'CONF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CONF
}

# Both files of a pair exist, or neither: a lone half means someone removed
# or copied files by hand, and guessing could orphan every certificate
# already handed out.
have_pair() {
    local base=$1
    if [[ -e $base.crt && -e $base.key ]]; then
        return 0
    elif [[ -e $base.crt || -e $base.key ]]; then
        die "$base.crt and $base.key must both exist or both be absent; remove the other one"
    fi
    return 1
}

new_key() {
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$1" 2>/dev/null)
    chmod 0600 "$1"
}

make_ca() {
    new_key "$DIR/ca.key.new"
    openssl req -new -x509 -sha256 -days "$CA_DAYS" -config "$CONF" -extensions ca \
        -subj "/CN=Branchline development CA" \
        -key "$DIR/ca.key.new" -out "$DIR/ca.crt.new"
    mv "$DIR/ca.key.new" "$DIR/ca.key"
    mv "$DIR/ca.crt.new" "$DIR/ca.crt"
    note "created $DIR/ca.crt"
}

# make_leaf NAME CN PROFILE: issues NAME.crt/NAME.key unless a valid pair
# signed by this CA is already there.
make_leaf() {
    local name=$1 cn=$2 profile=$3 base=$DIR/$1
    if have_pair "$base"; then
        openssl verify -CAfile "$DIR/ca.crt" "$base.crt" >/dev/null 2>&1 ||
            die "$base.crt is not signed by $DIR/ca.crt; remove $base.crt and $base.key"
        if openssl x509 -in "$base.crt" -noout -checkend "$RENEW_SECONDS" >/dev/null; then
            return 0
        fi
        note "$base.crt expires within 30 days; reissuing"
    fi
    new_key "$base.key.new"
    openssl req -new -config "$CONF" -subj "/CN=$cn" -key "$base.key.new" -out "$base.csr"
    openssl x509 -req -sha256 -days "$LEAF_DAYS" -in "$base.csr" \
        -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
        -extfile "$CONF" -extensions "$profile" -out "$base.crt.new" 2>/dev/null
    rm -f "$base.csr"
    mv "$base.key.new" "$base.key"
    mv "$base.crt.new" "$base.crt"
    note "created $base.crt (CN=$cn)"
}

[[ $# -ge 1 && $1 != -* ]] || usage
DIR=$1
shift
for name in "$@"; do
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] ||
        die "client name '$name' must be letters, digits, '.', '_' or '-'"
    [[ $name != ca && $name != server ]] || die "client name '$name' is reserved"
done

mkdir -p "$DIR"
CONF=$(mktemp)
trap 'rm -f "$CONF"' EXIT
write_openssl_conf "$CONF"

have_pair "$DIR/ca" || make_ca
make_leaf server localhost server
for name in "$@"; do
    make_leaf "$name" "$name" client
done
