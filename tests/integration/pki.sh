#!/usr/bin/env bash
# Test PKI chores the dev CA script does not do, with the openssl CLI:
#   pki.sh expired CA_DIR OUT_DIR NAME    a client cert CN=NAME that expired in 2020
#   pki.sh crl CA_DIR OUT_DIR [CERT...]   OUT_DIR/crl.pem revoking the given certs
set -euo pipefail
cmd=$1 ca=$2 out=$3
shift 3
mkdir -p "$out/ca-db"
db=$out/ca-db
[[ -f $db/index.txt ]] || : >"$db/index.txt"
[[ -f $db/crlnumber ]] || echo 1000 >"$db/crlnumber"
[[ -f $db/serial ]] || echo 1000 >"$db/serial"
cat >"$db/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $db/index.txt
crlnumber = $db/crlnumber
serial = $db/serial
new_certs_dir = $db
certificate = $ca/ca.crt
private_key = $ca/ca.key
default_md = sha256
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = copy
[any]
commonName = supplied
[client]
extendedKeyUsage = clientAuth
basicConstraints = CA:FALSE
CNF
case $cmd in
expired)
    name=$1
    openssl ecparam -name prime256v1 -genkey -noout -out "$out/$name.key" 2>/dev/null
    openssl req -new -key "$out/$name.key" -subj "/CN=$name" -out "$db/$name.csr" 2>/dev/null
    openssl ca -batch -config "$db/ca.cnf" -extensions client \
        -startdate 20200101000000Z -enddate 20200102000000Z \
        -in "$db/$name.csr" -out "$out/$name.crt" 2>/dev/null
    ;;
crl)
    for cert in "$@"; do
        openssl ca -batch -config "$db/ca.cnf" -revoke "$cert" 2>/dev/null || true
    done
    openssl ca -batch -config "$db/ca.cnf" -gencrl -out "$out/crl.pem" 2>/dev/null
    ;;
*)
    echo "usage: pki.sh expired|crl CA_DIR OUT_DIR ..." >&2
    exit 2
    ;;
esac
