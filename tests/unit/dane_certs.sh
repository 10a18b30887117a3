#!/bin/sh
# tests/unit/dane_certs.sh — make the certificates the DANE tests use, with the openssl CLI.
#
#   dane_certs.sh DIR
#
# Every certificate is valid from 2020-01-01 to 2040-01-01 (tests pass the
# time they check at), except expired-leaf, valid only in 2020. In DIR:
#   ec-root  ec-int  ec-leaf (www.example.test, by ec-int)   EC P-256
#   rsa-root rsa-int rsa-leaf (rsa.example.test, by rsa-int) RSA-2048
#   ec-direct (direct.example.test, by ec-root)
#   self (self.example.test, self-signed, not a CA)
#   expired-leaf (www.example.test, by ec-int, 2020 only)
#   wrong-name (SAN other.example.test, CN www.example.test, by ec-int)
#   wild (SAN *.wild.example.test, by ec-int)
#   cn-only (no SAN, CN cn.example.test, by ec-int)
#   rogue-root rogue-leaf (www.example.test, by rogue-root): another EC PKI
#   client-leaf (www.example.test, by ec-int, extendedKeyUsage clientAuth only)
#   tld-wild (SAN *.test, by ec-int: a wildcard over a whole TLD)
# and certificates mbedTLS 2.28 cannot parse (X.509 v1, no extensions):
#   anon-never (empty subject and issuer, self-signed, notBefore 2030 after
#               notAfter 2020: "anonymous" and "never valid")   EC P-256
#   anon-ca (empty subject and issuer, self-signed, 2020-2040)   EC P-256
#   anon-leaf (CN www.example.test, empty issuer: by anon-ca)    EC P-256
#   ed25519 (CN ed.example.test, self-signed, 2020-2040)         Ed25519
# each as NAME.pem (certificate), NAME.key, NAME.der; and NAME.spki-sha256,
# NAME.cert-sha256, NAME.spki-sha512 (hex, from the openssl pipeline).
set -eu
dir=$1
cd "$dir"
mkdir -p db
: >db/index.txt
cat >ca.cnf <<EOF
[ca]
default_ca = dg
[dg]
dir = .
database = ./db/index.txt
new_certs_dir = ./db
rand_serial = yes
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
email_in_dn = no
[pol]
commonName = supplied
[pol_any]
commonName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[int_ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

key() { # name ec|rsa
    if [ "$2" = ec ]; then
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
    elif [ "$2" = ed25519 ]; then
        openssl genpkey -algorithm ed25519 -out "$1.key" 2>/dev/null
    else
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null
    fi
}

leaf_ext() { # san eku
    printf 'basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n'
    printf 'extendedKeyUsage = %s\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n' "$2"
    [ -n "$1" ] && printf 'subjectAltName = %s\n' "$1"
    return 0
}

# cert name alg cn issuer|self ext-section|ext-file [start end]
cert() {
    name=$1 alg=$2 cn=$3 issuer=$4 ext=$5 start=${6:-20200101000000Z} end=${7:-20400101000000Z}
    key "$name" "$alg"
    openssl req -new -config ca.cnf -key "$name.key" -subj "/CN=$cn" -out "$name.csr" 2>/dev/null
    if [ -f "$ext" ]; then extargs="-extfile $ext"; else extargs="-extfile ca.cnf -extensions $ext"; fi
    if [ "$issuer" = self ]; then
        issargs="-selfsign -keyfile $name.key"
    else
        issargs="-cert $issuer.pem -keyfile $issuer.key"
    fi
    # shellcheck disable=SC2086
    openssl ca -batch -config ca.cnf -notext -in "$name.csr" -out "$name.pem" -subj "/CN=$cn" \
        -startdate "$start" -enddate "$end" $issargs $extargs 2>/dev/null
    digests "$name"
}

# odd name alg subject issuer|self start end: no extensions, any subject (even
# "/", an empty name), dates as given (even inverted); the default digest
# (Ed25519 takes none).
odd() {
    name=$1 alg=$2 subj=$3 issuer=$4 start=$5 end=$6
    key "$name" "$alg"
    openssl req -new -config ca.cnf -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
    if [ "$issuer" = self ]; then
        issargs="-selfsign -keyfile $name.key"
    else
        issargs="-cert $issuer.pem -keyfile $issuer.key"
    fi
    # shellcheck disable=SC2086
    openssl ca -batch -config ca.cnf -policy pol_any -md default -notext -in "$name.csr" \
        -out "$name.pem" -subj "$subj" -startdate "$start" -enddate "$end" $issargs 2>/dev/null
    digests "$name"
}

digests() { # name
    name=$1
    openssl x509 -in "$name.pem" -outform DER -out "$name.der"
    openssl x509 -in "$name.pem" -pubkey -noout | openssl pkey -pubin -outform DER |
        openssl dgst -sha256 | sed 's/.*= *//' >"$name.spki-sha256"
    openssl x509 -in "$name.pem" -pubkey -noout | openssl pkey -pubin -outform DER |
        openssl dgst -sha512 | sed 's/.*= *//' >"$name.spki-sha512"
    openssl x509 -in "$name.pem" -outform DER | openssl dgst -sha256 | sed 's/.*= *//' \
        >"$name.cert-sha256"
    openssl x509 -in "$name.pem" -pubkey -noout | openssl pkey -pubin -outform DER \
        -out "$name.spki.der"
}

ext() { # file san eku
    leaf_ext "$2" "$3" >"$1"
}

cert ec-root ec "Test EC Root" self ca_ext
cert ec-int ec "Test EC Intermediate" ec-root int_ext
ext www.ext "DNS:www.example.test,DNS:alt.example.test" serverAuth
cert ec-leaf ec "www.example.test" ec-int www.ext
ext direct.ext "DNS:direct.example.test" serverAuth
cert ec-direct ec "direct.example.test" ec-root direct.ext

cert rsa-root rsa "Test RSA Root" self ca_ext
cert rsa-int rsa "Test RSA Intermediate" rsa-root int_ext
ext rsa.ext "DNS:rsa.example.test" serverAuth
cert rsa-leaf rsa "rsa.example.test" rsa-int rsa.ext

ext self.ext "DNS:self.example.test" serverAuth
cert self ec "self.example.test" self self.ext
cert expired-leaf ec "www.example.test" ec-int www.ext 20200101000000Z 20210101000000Z
ext wrong.ext "DNS:other.example.test" serverAuth
cert wrong-name ec "www.example.test" ec-int wrong.ext
ext wild.ext "DNS:*.wild.example.test" serverAuth
cert wild ec "wild leaf" ec-int wild.ext
ext cn.ext "" serverAuth
cert cn-only ec "cn.example.test" ec-int cn.ext
cert rogue-root ec "Test EC Root" self ca_ext
cert rogue-leaf ec "www.example.test" rogue-root www.ext
ext client.ext "DNS:www.example.test" clientAuth
cert client-leaf ec "www.example.test" ec-int client.ext
ext tldwild.ext "DNS:*.test" serverAuth
cert tld-wild ec "tld wild" ec-int tldwild.ext

odd anon-never ec / self 20300101000000Z 20200101000000Z
odd anon-ca ec / self 20200101000000Z 20400101000000Z
odd anon-leaf ec /CN=www.example.test anon-ca 20200101000000Z 20400101000000Z
odd ed25519 ed25519 /CN=ed.example.test self 20200101000000Z 20400101000000Z
