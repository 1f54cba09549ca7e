#!/usr/bin/env bash
# make-fabric-certs.sh — the fabric's mutual-TLS PKI, with the openssl CLI only.
#
#   deploy/make-fabric-certs.sh [OPTIONS] OUT_DIR NODE_ID [NODE_ID...]
#
# Makes OUT_DIR/ca.pem + ca.key (a self-signed fabric CA, RSA 3072, 10 years)
# unless OUT_DIR/ca.pem exists already: then that CA is reused, so nodes can
# be added later. For each NODE_ID it makes OUT_DIR/NODE_ID.pem + NODE_ID.key
# (RSA 2048, CN=NODE_ID, SAN DNS:NODE_ID, serverAuth + clientAuth, signed by
# the CA, 2 years by default). Keys are mode 600. A node whose certificate
# and key exist already (and are signed by this CA) is kept, so running the
# script again changes nothing. See security/README.md ("Node identity").
set -euo pipefail

prog=$(basename "$0")

usage() {
  cat >&2 <<EOF
usage: $prog [OPTIONS] OUT_DIR NODE_ID [NODE_ID...]

Creates OUT_DIR/ca.pem + ca.key (fabric CA; reused if ca.pem exists) and
OUT_DIR/NODE_ID.pem + NODE_ID.key for every NODE_ID (CN and SAN DNS = NODE_ID).

options:
  --ca-name NAME     common name of a new CA (default: "twin fabric CA")
  --days N           validity of new node certificates in days (default: 730)
  --expired          (tests) new node certificates whose validity ended yesterday
  --not-yet-valid    (tests) new node certificates valid from tomorrow on
  --force            re-issue node certificates and keys that exist already
  -h, --help         this text

NODE_ID: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit.
EOF
}

die() {
  echo "$prog: $*" >&2
  exit 1
}

bad_usage() {
  echo "$prog: $*" >&2
  usage
  exit 2
}

ca_name="twin fabric CA"
days=730
validity=normal
force=0
positional=()

while (($#)); do
  case "$1" in
    --ca-name)
      (($# >= 2)) || bad_usage "--ca-name needs a value"
      ca_name=$2
      shift 2
      ;;
    --ca-name=*) ca_name=${1#*=}; shift ;;
    --days)
      (($# >= 2)) || bad_usage "--days needs a value"
      days=$2
      shift 2
      ;;
    --days=*) days=${1#*=}; shift ;;
    --expired) validity=expired; shift ;;
    --not-yet-valid) validity=future; shift ;;
    --force) force=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; positional+=("$@"); break ;;
    -*) bad_usage "unknown option $1" ;;
    *) positional+=("$1"); shift ;;
  esac
done

((${#positional[@]} >= 2)) || bad_usage "need OUT_DIR and at least one NODE_ID"
out_dir=${positional[0]}
nodes=("${positional[@]:1}")

if ! [[ $days =~ ^[0-9]{1,5}$ ]] || ((10#$days < 1 || 10#$days > 36500)); then
  bad_usage "--days must be a whole number of days from 1 to 36500, not '$days'"
fi
days=$((10#$days))
if [[ -z $ca_name || ${#ca_name} -gt 64 || $ca_name == *$'\n'* ]]; then
  bad_usage "--ca-name must be 1-64 characters on one line"
fi

declare -A seen=()
for n in "${nodes[@]}"; do
  [[ $n =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] \
    || bad_usage "bad NODE_ID '$n' (1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit)"
  [[ $n != ca ]] || bad_usage "NODE_ID 'ca' is taken by the CA's own files"
  [[ -z ${seen[$n]+x} ]] || bad_usage "NODE_ID '$n' given twice"
  seen[$n]=1
done

command -v openssl >/dev/null || die "the openssl command is not installed (apt-get install openssl)"

mkdir -p -- "$out_dir"
[[ -d $out_dir && -w $out_dir ]] || die "$out_dir is not a writable directory"

work=$(mktemp -d "${TMPDIR:-/tmp}/fabric-certs.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

ca_pem=$out_dir/ca.pem
ca_key=$out_dir/ca.key

# The public key of a certificate or of a private key, for comparing them.
cert_pubkey() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }
key_pubkey() { openssl pkey -in "$1" -pubout -passin pass: 2>/dev/null; }
subject_cn() { openssl x509 -in "$1" -noout -subject -nameopt sep_multiline,utf8,lname,space_eq 2>/dev/null | sed -n 's/^ *commonName = //p'; }
not_after() { openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//'; }

# New RSA key into $2 (bits $1), mode 600 from the start.
new_key() {
  (umask 077 && openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$1" -out "$2" 2>/dev/null) \
    || die "openssl genpkey failed for $2"
  chmod 600 "$2"
}

# --- the CA ---------------------------------------------------------------
if [[ -e $ca_pem ]]; then
  openssl x509 -in "$ca_pem" -noout 2>/dev/null || die "$ca_pem exists but is not a PEM certificate"
  existing_cn=$(subject_cn "$ca_pem")
  echo "reusing CA $ca_pem (CN=$existing_cn, valid until $(not_after "$ca_pem"))"
  if [[ $existing_cn != "$ca_name" && $ca_name != "twin fabric CA" ]]; then
    echo "  note: --ca-name '$ca_name' ignored, the existing CA keeps its name" >&2
  fi
  openssl x509 -in "$ca_pem" -noout -checkend 0 >/dev/null || die "the CA $ca_pem has expired"
else
  [[ ! -e $ca_key ]] || die "$ca_key exists without $ca_pem: refusing to overwrite a CA key (move it away)"
  cat >"$work/ca.cnf" <<EOF
[req]
prompt = no
utf8 = yes
string_mask = utf8only
distinguished_name = ca_dn
x509_extensions = ca_ext
[ca_dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
  new_key 3072 "$work/ca.key"
  # -subj, not the config file, carries the name: there '$', '#' and quotes
  # are special, here a backslash escapes any character.
  # shellcheck disable=SC2001
  subj="/CN=$(sed 's/[^A-Za-z0-9 ]/\\&/g' <<<"$ca_name")"
  openssl req -x509 -new -utf8 -config "$work/ca.cnf" -subj "$subj" -key "$work/ca.key" \
    -sha256 -days 3650 \
    -set_serial "0x$(openssl rand -hex 16)" -out "$work/ca.pem" 2>"$work/err" \
    || die "making the CA certificate failed: $(cat "$work/err")"
  chmod 644 "$work/ca.pem"
  mv -- "$work/ca.key" "$ca_key"
  mv -- "$work/ca.pem" "$ca_pem"
  echo "created CA $ca_pem + $ca_key (CN=$(subject_cn "$ca_pem"), valid until $(not_after "$ca_pem"))"
fi

# --- the nodes --------------------------------------------------------------
ca_ready=0
prepare_ca() {
  ((ca_ready)) && return 0
  [[ -r $ca_key ]] || die "cannot issue node certificates: the CA key $ca_key is missing or unreadable"
  [[ "$(cert_pubkey "$ca_pem")" == "$(key_pubkey "$ca_key")" ]] \
    || die "$ca_key does not belong to $ca_pem (or is encrypted)"
  mkdir -p "$work/ca/new"
  : >"$work/ca/index.txt"
  echo "unique_subject = no" >"$work/ca/index.txt.attr"
  openssl rand -hex 16 >"$work/ca/serial"
  cat >"$work/ca/ca.cnf" <<EOF
[ca]
default_ca = fabric
[fabric]
dir = $work/ca
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/new
certificate = $(realpath -- "$ca_pem")
private_key = $(realpath -- "$ca_key")
default_md = sha256
policy = node_policy
unique_subject = no
copy_extensions = none
utf8 = yes
[node_policy]
commonName = supplied
[req]
prompt = no
distinguished_name = node_dn
[node_dn]
CN = placeholder
EOF
  ca_ready=1
}

for n in "${nodes[@]}"; do
  pem=$out_dir/$n.pem
  key=$out_dir/$n.key
  if ((!force)) && [[ -e $pem || -e $key ]]; then
    [[ -e $pem && -e $key ]] \
      || die "only one of $pem and $key exists: remove it, or re-issue with --force"
    openssl verify -no_check_time -CAfile "$ca_pem" "$pem" >/dev/null 2>&1 \
      || die "$pem exists but is not signed by $ca_pem: re-issue with --force"
    [[ "$(cert_pubkey "$pem")" == "$(key_pubkey "$key")" ]] \
      || die "$key does not belong to $pem: re-issue with --force"
    state="valid until $(not_after "$pem")"
    openssl x509 -in "$pem" -noout -checkend 0 >/dev/null || state="EXPIRED on $(not_after "$pem")"
    echo "kept $n: $pem + $key ($state)"
    continue
  fi
  prepare_ca
  cat >"$work/$n.ext" <<EOF
[node_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:$n
EOF
  new_key 2048 "$work/$n.key"
  openssl req -new -config "$work/ca/ca.cnf" -key "$work/$n.key" -subj "/CN=$n" \
    -out "$work/$n.csr" 2>"$work/err" || die "making the request for $n failed: $(cat "$work/err")"
  dates=(-days "$days")
  case $validity in
    expired) dates=(-startdate "$(date -u -d '-2 days' +%y%m%d%H%M%SZ)"
                    -enddate "$(date -u -d '-1 day' +%y%m%d%H%M%SZ)") ;;
    future) dates=(-startdate "$(date -u -d '+1 day' +%y%m%d%H%M%SZ)"
                   -enddate "$(date -u -d "+$((days + 1)) days" +%y%m%d%H%M%SZ)") ;;
  esac
  openssl ca -batch -notext -rand_serial -config "$work/ca/ca.cnf" \
    -extfile "$work/$n.ext" -extensions node_ext "${dates[@]}" \
    -in "$work/$n.csr" -out "$work/$n.pem" >"$work/err" 2>&1 \
    || die "signing the certificate of $n failed: $(cat "$work/err")"
  chmod 644 "$work/$n.pem"
  mv -f -- "$work/$n.key" "$key"
  mv -f -- "$work/$n.pem" "$pem"
  echo "created $n: $pem + $key (CN=$n, SAN DNS:$n, $(openssl x509 -in "$pem" -noout -startdate | sed 's/^notBefore=/valid from /') until $(not_after "$pem"))"
done
