"""RSS growth of the sidecar's result cache holding N active verdicts.

Measured in a fresh interpreter (``python -m bench.memory N``) so nothing else the harness
allocated is counted. Each entry carries claims shaped like a real introspection answer.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _fill(entries: int) -> dict[str, Any]:
    from oauthbearer import _compiled
    from oauthbearer.sidecar.cache import ResultCache
    from oauthbearer.sidecar.verdict import Verdict, token_key

    now = time.time()
    cache = ResultCache(
        ttl=3600, max_entries=entries, negative_ttl=0, negative_max_entries=1, clock=lambda: now
    )
    gc.collect()
    before = _rss_kib()
    for i in range(entries):
        claims = {
            "active": True,
            "sub": f"client-{i % 500}",
            "client_id": f"client-{i % 500}",
            "scope": "kafka produce consume",
            "iss": "https://idp.example.com/realms/kafka",
            "aud": "urn:kafka",
            "token_type": "Bearer",
            "exp": int(now) + 3000,
            "iat": int(now) - 600,
            "jti": f"{i:032x}",
        }
        cache.put(token_key(f"token-{i}"), Verdict.of(claims, "upstream"))
    gc.collect()
    after = _rss_kib()
    assert len(cache) == entries
    return {
        "entries": entries,
        "rss_growth_mib": round((after - before) / 1024, 1),
        "bytes_per_entry": round((after - before) * 1024 / entries),
        "build": _compiled.build(),
    }


def measure(entries: int, build_path: str = "") -> dict[str, Any]:
    """``entries`` verdicts cached in a fresh interpreter, importing oauthbearer from
    ``build_path`` first when given (the harness passes the compiled build's directory).
    ``-P``: the working directory, this checkout, must not come before it."""
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run(
        [sys.executable, "-P", "-m", "bench.memory", str(entries)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [build_path, root]))},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(_fill(int(sys.argv[1]))))
