"""The habits, run with the suite: the web code type-checks, lints and passes its unit tests
(web/test/, vitest), their reference data still matches Pillow and pycocotools, and ruff passes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"


def _run(cmd: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def npm() -> str:
    found = shutil.which("npm")
    if found is None or not (WEB / "node_modules").is_dir():
        pytest.fail("npm and web/node_modules are needed (scripts/setup.sh installs both)")
    return found


def test_typescript_typechecks(npm):
    _run([npm, "run", "--silent", "typecheck"], WEB)


def test_web_code_lints_and_is_formatted(npm):
    _run([npm, "run", "--silent", "lint"], WEB)


def test_web_unit_tests(npm):
    proc = _run([npm, "test", "--silent", "--", "--reporter=dot"], WEB)
    assert "failed" not in proc.stdout.lower(), proc.stdout


def test_unit_test_reference_data_is_current():
    _run([sys.executable, str(WEB / "test" / "fixtures" / "make_fixtures.py"), "--check"])


def test_python_lints_and_is_formatted():
    _run([sys.executable, "-m", "ruff", "check", "."])
    _run([sys.executable, "-m", "ruff", "format", "--check", "."])
