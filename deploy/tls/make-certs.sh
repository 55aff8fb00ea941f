#!/bin/sh
# Make the certificates of deploy/nats-cluster.conf with openssl: a private CA,
# one server certificate every node presents (to clients and, with clientAuth,
# to the other nodes on the routes) and a client certificate for mutual TLS.
#
#   deploy/tls/make-certs.sh OUT_DIR NAME...
#
# NAMEs are what clients and routes connect to: host names (n1 n2 n3
# nats.internal) or IP addresses. Writes ca.pem, server.pem, server-key.pem,
# client.pem, client-key.pem (keys mode 0600) into OUT_DIR. Keep ca-key.pem
# offline; rerun with the same OUT_DIR to renew the certificates under the same CA.
set -eu

[ $# -ge 2 ] || { echo "usage: $0 OUT_DIR NAME..." >&2; exit 2; }
out=$1
shift
mkdir -p "$out"
umask 077

sans=""
for name in "$@"; do
    case $name in
        *[!0-9.]*) entry="DNS:$name" ;;
        *) entry="IP:$name" ;;
    esac
    sans="${sans:+$sans,}$entry"
done

if [ ! -f "$out/ca-key.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=hookcore NATS CA" -keyout "$out/ca-key.pem" -out "$out/ca.pem" 2>/dev/null
fi

issue() {  # issue NAME SUBJECT EXTENSIONS
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
        -keyout "$out/$1-key.pem" -out "$out/$1.csr" 2>/dev/null
    printf '%s\n' "$3" > "$out/$1.ext"
    openssl x509 -req -in "$out/$1.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" -CAcreateserial \
        -days 825 -extfile "$out/$1.ext" -out "$out/$1.pem" 2>/dev/null
    rm "$out/$1.csr" "$out/$1.ext"
}

issue server "/CN=hookcore NATS" \
    "subjectAltName=$sans
extendedKeyUsage=serverAuth,clientAuth"
issue client "/CN=hookcore" "extendedKeyUsage=clientAuth"
chmod 644 "$out/ca.pem" "$out/server.pem" "$out/client.pem"
echo "certificates for $* in $out"
