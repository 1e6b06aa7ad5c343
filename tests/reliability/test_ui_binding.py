"""The Dagster UI (which can launch runs) listens on 127.0.0.1 unless the operator asks otherwise."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _webserver_command(*make_args: str) -> list[str]:
    """The dagster-webserver command line `make ui` would run (dry run, nothing started)."""
    out = subprocess.run(["make", "-n", "ui", *make_args], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "MAKEFLAGS": ""}).stdout
    line = next(line for line in out.splitlines() if "dagster-webserver" in line)
    return shlex.split(line)


def _option(command: list[str], *names: str) -> str:
    i = next(i for i, arg in enumerate(command) if arg in names)
    return command[i + 1]


def test_make_ui_binds_to_loopback_by_default():
    command = _webserver_command()
    assert _option(command, "-h", "--host") == "127.0.0.1"
    # exposing it is a deliberate choice on the command line
    assert _option(_webserver_command("HOST=0.0.0.0"), "-h", "--host") == "0.0.0.0"


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (IPv4 and IPv6), from /proc/net."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_webserver_started_like_make_ui_is_not_reachable_from_outside(tmp_path):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc/net to read listening sockets")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = _webserver_command(f"PORT={port}")
    command[0] = str(BIN / "dagster-webserver")  # the venv's, wherever the Makefile's VENV points
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text((ROOT / "config" / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "MMM_DATA_DIR": str(tmp_path / "data")}
    with open(tmp_path / "webserver.log", "w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while True:
            assert server.poll() is None, (tmp_path / "webserver.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                    break
            except OSError:
                assert time.time() < deadline, "dagster-webserver did not come up"
                time.sleep(0.5)
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only, nothing on 0.0.0.0 or ::
        outside = _non_loopback_address()
        if outside is not None:
            with socket.socket() as s:
                s.settimeout(3)
                assert s.connect_ex((outside, port)) != 0, f"the UI answered on {outside}:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
