#!/bin/sh
# Makes TLS material for Wharf with a correct subjectAltName.
#
#   deploy/gen-certs.sh HOSTNAME [IP]          self-signed certificate
#   deploy/gen-certs.sh --ca HOSTNAME [IP]     a private CA, and a server
#                                              certificate signed by it
# Writes certs/private-registry.crt (and certs/ca.crt with --ca) and
# private/private-registry.key in the current directory. Clients trust
# certs/private-registry.crt (self-signed) or certs/ca.crt (CA), e.g. in
# /etc/docker/certs.d/HOSTNAME:5000/ca.crt.
set -eu
ca=0
if [ "${1:-}" = "--ca" ]; then ca=1; shift; fi
host=${1:?usage: gen-certs.sh [--ca] HOSTNAME [IP]}
ip=${2:-}
san="DNS:$host"
[ -n "$ip" ] && san="$san,IP:$ip"
mkdir -p certs private
chmod 700 private
if [ "$ca" = 0 ]; then
  openssl req -newkey rsa:4096 -days 3650 -nodes -sha256 \
    -keyout private/private-registry.key -x509 -out certs/private-registry.crt \
    -subj "/CN=$host" -addext "subjectAltName=$san"
else
  openssl req -newkey rsa:4096 -days 3650 -nodes -sha256 -x509 \
    -keyout private/ca.key -out certs/ca.crt -subj "/CN=Wharf private CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -newkey rsa:4096 -nodes -sha256 -keyout private/private-registry.key \
    -out private/private-registry.csr -subj "/CN=$host"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > private/ext.cnf
  openssl x509 -req -in private/private-registry.csr -CA certs/ca.crt -CAkey private/ca.key \
    -CAcreateserial -days 825 -sha256 -extfile private/ext.cnf -out certs/private-registry.crt
  rm -f private/private-registry.csr private/ext.cnf
fi
chmod 600 private/*.key
echo "wrote certs/private-registry.crt and private/private-registry.key (SAN $san)"
