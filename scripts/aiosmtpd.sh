#!/usr/bin/env bash
# Makes sure a Python with aiosmtpd is present: the SMTP tests (tests/tests/smtp.rs) run a
# real aiosmtpd server as a child process. Installs only when missing: Debian's
# python3-aiosmtpd for /usr/bin/python3 first, else aiosmtpd 1.4.6 from PyPI for the
# `python3` on the PATH. The tests look for it in the same places (see tests/src/lib.rs).
set -euo pipefail

has_aiosmtpd() { "$1" -c 'import aiosmtpd' >/dev/null 2>&1; }

for python in "${PRIVACY_GUARD_TEST_PYTHON:-}" python3 /usr/bin/python3; do
    if [ -n "$python" ] && has_aiosmtpd "$python"; then
        exit 0
    fi
done

echo "aiosmtpd is missing: installing it for the SMTP tests" >&2
if command -v apt-get >/dev/null 2>&1 && [ -x /usr/bin/python3 ]; then
    # A fresh machine may have no package lists yet: update once when the install fails.
    if apt-get install -y -q python3-aiosmtpd >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q python3-aiosmtpd >/dev/null 2>&1; }; then
        if has_aiosmtpd /usr/bin/python3; then
            exit 0
        fi
    fi
fi
if command -v python3 >/dev/null 2>&1 && python3 -m pip install -q aiosmtpd==1.4.6 && has_aiosmtpd python3; then
    exit 0
fi
echo "could not install aiosmtpd: install Debian's python3-aiosmtpd or run \`python3 -m pip install aiosmtpd==1.4.6\`" >&2
exit 1
