"""A real headless browser for the tests (Debian's `chromium`, installed by .ci/run): the DOM a
page renders to and the console messages it logged. Without a browser a test skips, naming it,
except under CI=true, where a missing browser fails the run instead of hiding a test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")
_CONSOLE = re.compile(r":CONSOLE[(:]\d+|Uncaught ")


def find() -> str:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    why = "no headless browser: install Debian's chromium (apt-get install chromium; .ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(why + " - required under CI=true")
    pytest.skip(why)


def render(page: Path, timeout: float = 60.0) -> tuple[str, list[str]]:
    """(the DOM after load, console lines) of a local file, in a throwaway profile."""
    exe = find()
    with tempfile.TemporaryDirectory(prefix="hbtest-chromium-") as profile:
        r = subprocess.run([exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                            "--disable-extensions", "--enable-logging=stderr", "--v=0",
                            f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
                           capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0 or "<html" not in r.stdout:
        raise AssertionError(f"chromium could not render {page}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return r.stdout, [line for line in r.stderr.splitlines() if _CONSOLE.search(line)]


def failing_refs(dom: str) -> list[str]:
    """The designators the rendered board map marks as failing."""
    return sorted(set(re.findall(r'<g data-ref="([^"]+)"[^>]*data-failing="true"', dom)))
