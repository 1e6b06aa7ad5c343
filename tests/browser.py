"""Headless Chromium for tests: load a local HTML file, return its DOM after scripts ran, take a screenshot.

Debian's ``chromium`` package (``make browser`` installs it). Offline on purpose: no network features,
a throwaway profile, virtual time so timers fire without waiting in real time.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class PageRun:
    dom: str
    screenshot: Path | None
    stderr: str


def _run(binary: str, html_path: Path, profile: Path, extra: list[str], budget_ms: int, timeout_s: int):
    command = [binary, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *extra,
               html_path.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)


def render(html_path: Path, out_dir: Path, window: tuple[int, int] = (1400, 6000), budget_ms: int = 10_000,
           timeout_s: int = 120) -> PageRun:
    """DOM after load (``--dump-dom``) and a full-window PNG (``--screenshot``), from two headless runs."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("no chromium binary on PATH")
    out_dir.mkdir(parents=True, exist_ok=True)
    dom = _run(binary, html_path, out_dir / "profile-dom", ["--dump-dom"], budget_ms, timeout_s)
    shot = out_dir / "shot.png"
    picture = _run(binary, html_path, out_dir / "profile-shot",
                   [f"--screenshot={shot}", f"--window-size={window[0]},{window[1]}"], budget_ms, timeout_s)
    return PageRun(dom.stdout, shot if shot.exists() else None, dom.stderr + picture.stderr)


def report_status(dom: str) -> dict:
    """The JSON the report's own script writes into ``#mmm-report-status`` after every plot drew."""
    element = re.search(r'<pre id="mmm-report-status"[^>]*>', dom)
    match = re.search(r'data-json="([^"]*)"', element.group(0)) if element else None
    if match is None or 'data-done="true"' not in element.group(0):
        raise AssertionError("the page never wrote its status (its scripts did not run to the end): " + dom[-2000:])
    text = match.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(text)


def figures_in_html(page: str) -> dict[str, list[dict]]:
    """The traces of every ``Plotly.newPlot(div_id, traces, ...)`` call in a page, typed arrays decoded.

    Plotly writes numpy arrays as ``{"dtype": "f8", "bdata": <base64>}``; they come back as lists, so a
    test can compare the numbers the browser will draw with SQL.
    """
    import base64

    import numpy as np

    decoder = json.JSONDecoder()
    found: dict[str, list[dict]] = {}
    for match in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', page):
        traces, _ = decoder.raw_decode(page, match.end())
        found[match.group(1)] = _decode(traces, base64, np)
    return found


def _decode(value, base64, np):
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            if "shape" in value:
                array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
            return array.tolist()
        return {k: _decode(v, base64, np) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, base64, np) for v in value]
    return value
