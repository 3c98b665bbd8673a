"""Memory of a running Chromium and of the GPU, sampled while a benchmark runs.

- `PeakMemory`: one Chromium's browser, renderer, GPU and utility processes together (found by
  its --user-data-dir), the sum of their resident set sizes (shared pages counted once per
  process, so an upper bound), every 200 ms from /proc. Pages cannot see their workers' and WASM
  heaps together (measureUserAgentSpecificMemory took 60 s in browser_clicks.py), the OS can.
  Linux only; None elsewhere.
- `PeakGpuMemory`: the whole GPU's used memory (nvidia-smi), every 200 ms; None without one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Sampler:
    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        raise NotImplementedError

    def _run(self):
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.now())

    def stop(self) -> int | None:
        # No join: a read of /proc can block while Chromium remaps its WASM memory; the sampler
        # is a daemon thread and ends on its next wake-up.
        self._stop.set()
        return self.peak or None


class PeakMemory(_Sampler):
    """Bytes: the peak sum of RSS of one Chromium's processes since it was made."""

    def __init__(self, profile: str):
        self.profile = profile
        super().__init__()

    def _pids(self) -> list[int]:
        parents, root = {}, None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
                if root is None and f"--user-data-dir={self.profile}" in (
                    entry / "cmdline"
                ).read_text().replace("\0", " "):
                    root = int(entry.name)
            except OSError:
                continue
        if root is None:
            return []
        found, frontier = {root}, [root]
        while frontier:
            parent = frontier.pop()
            for pid, ppid in parents.items():
                if ppid == parent and pid not in found:
                    found.add(pid)
                    frontier.append(pid)
        return sorted(found)

    def now(self) -> int:
        total = 0
        for pid in self._pids():
            try:  # statm, not smaps: walking WASM's terabyte reservations stalled for minutes
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            except OSError:
                continue
        return total


class PeakGpuMemory(_Sampler):
    """MiB: the peak of the GPU's used memory (every process on it) since it was made."""

    def __init__(self):
        self.smi = shutil.which("nvidia-smi")
        super().__init__()

    def now(self) -> int:
        if not self.smi:
            return 0
        try:
            out = subprocess.run(
                [self.smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout
            return int(out.split()[0])
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            return 0
