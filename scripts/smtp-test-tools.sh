#!/usr/bin/env bash
# Makes sure what the SMTP tests (tests/tests/smtp.rs) run is present, installing only what
# is missing: aiosmtpd, the real SMTP server they start as a child process (Debian's
# python3-aiosmtpd for /usr/bin/python3 first, else aiosmtpd 1.4.6 from PyPI for the
# `python3` on the PATH; the tests look for it in the same places), and openssl, which
# makes their TLS certificates.
set -euo pipefail

has_aiosmtpd() { "$1" -c 'import aiosmtpd' >/dev/null 2>&1; }

# Debian packages, with `apt-get update` once when the package lists are missing or stale.
apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    apt-get install -y -q "$@" >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$@" >/dev/null 2>&1; }
}

if ! command -v openssl >/dev/null 2>&1; then
    echo "openssl is missing: installing it for the SMTP tests" >&2
    apt_install openssl || { echo "could not install openssl: install Debian's openssl package" >&2; exit 1; }
fi

for python in "${PRIVACY_GUARD_TEST_PYTHON:-}" python3 /usr/bin/python3; do
    if [ -n "$python" ] && has_aiosmtpd "$python"; then
        exit 0
    fi
done
echo "aiosmtpd is missing: installing it for the SMTP tests" >&2
if [ -x /usr/bin/python3 ] && apt_install python3-aiosmtpd && has_aiosmtpd /usr/bin/python3; then
    exit 0
fi
if command -v python3 >/dev/null 2>&1 && python3 -m pip install -q aiosmtpd==1.4.6 && has_aiosmtpd python3; then
    exit 0
fi
echo "could not install aiosmtpd: install Debian's python3-aiosmtpd or run \`python3 -m pip install aiosmtpd==1.4.6\`" >&2
exit 1
