"""`sam2web ARGS` as a user runs it: a subprocess of this Python, the built-in model hidden unless
a test asks for it (env={"SAM2WEB_BUILTIN": "1"})."""

from __future__ import annotations

import os
import subprocess
import sys

SAM2WEB = [sys.executable, "-m", "sam2web.cli"]


def run(*args, env=None, ok=True, timeout=600) -> subprocess.CompletedProcess:
    """ok=True: it must exit 0; ok=False: it must fail with a message, not a traceback."""
    full_env = {**os.environ, "SAM2WEB_BUILTIN": "0", **(env or {})}
    proc = subprocess.run(
        [*SAM2WEB, *map(str, args)], capture_output=True, text=True, env=full_env, timeout=timeout
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr, proc.stderr
    return proc
