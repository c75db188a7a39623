#!/usr/bin/env python3
"""Writes a host configuration with N tenants, each with one API key and its own SQLite
file under the data folder (the default), for measuring `serve --config` with many
tenants (issue 12, part 8).

    scripts/scale/tenants-config.py 10000 /tmp/many/tenants.toml

The key of tenant i is `pgk_scale_<i>` (its SHA-256 digest is in the file), so a client
can call any tenant: `curl -H "Authorization: Bearer pgk_scale_42" .../api/v1/settings`.
"""

import hashlib
import sys


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: tenants-config.py TENANTS OUTPUT.toml")
    count = int(sys.argv[1])
    if count < 1:
        sys.exit("TENANTS must be at least 1")
    with open(sys.argv[2], "w", encoding="utf-8") as output:
        for index in range(count):
            key = f"pgk_scale_{index}"
            digest = hashlib.sha256(key.encode()).hexdigest()
            output.write(
                f'[[tenants]]\nid = "t{index}"\napi_keys = ["crm=sha256:{digest}"]\n\n'
            )


if __name__ == "__main__":
    main()
