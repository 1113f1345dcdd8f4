"""The app under uvicorn on a free loopback port, for benchmarks that drive it over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server.core.protocol import server_command

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(env: dict[str, str] | None = None, ready_timeout_s: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start the server with ``env`` added to the environment; return it and its base URL once /readyz is 200.
    Exits the benchmark with a message if it dies or is not ready in time."""
    port = free_port()
    server = subprocess.Popen(
        [*server_command("127.0.0.1", port), "--log-level", "warning"],
        cwd=ROOT,
        env=os.environ | (env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("the server exited before it was ready; is the collection built (make demo)?")
        try:
            if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.terminate()
    sys.exit(f"the server was not ready within {ready_timeout_s:.0f} s")
