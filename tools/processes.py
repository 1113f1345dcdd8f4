"""Child processes for tests, benches and deployment checks: start one, wait until it is ready, stop it.

Every child gets its own process group, so Ctrl-C reaches only the parent and :meth:`Child.stop` reaches the
child's own children too (uvicorn's workers, a shell's commands); on Linux it is also killed when the thread
that started it dies (``PR_SET_PDEATHSIG``), so a parent killed without running its cleanup leaves nothing
behind. Its output goes to a log file whose tail is quoted in every failure, and a child that exits while it is
waited for fails at once instead of at the end of the timeout.

    child = spawn(["redis-server", "--port", str(port)], folder / "redis.log", name="redis")
    child.wait_for_port(port)
    ...
    child.stop()                      # SIGTERM to the group, SIGKILL after the grace period

    server = start_server(log, project=folder)   # uvicorn with the app, once /readyz answers 200
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: no dlopen between fork and exec
except OSError:
    _LIBC = None
_PR_SET_PDEATHSIG = 1


class ChildFailedError(RuntimeError):
    """A child exited or was not ready in time; the message ends with the tail of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it; another process could take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def http_status(url: str, timeout_s: float = 5.0) -> int | None:
    """The status ``url`` answers with, error statuses included; None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def port_open(port: int, host: str = "127.0.0.1", timeout_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def die_with_parent() -> None:
    """``preexec_fn``: in the child (Linux), be SIGKILLed when the parent's starting thread dies (a crash, a kill
    -9) without stopping it. Linux ties the signal to that thread: callers wait for or stop their children
    before the thread that started them ends."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


@dataclass
class Child:
    """A started child process (leader of its own process group) and the file its output goes to."""

    proc: subprocess.Popen
    log_path: Path
    name: str = "child"

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def log_tail(self, chars: int = 5000) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def explain(self, chars: int = 4000) -> str:
        """The child's name, exit status and the end of its log, for an error message."""
        status = "running" if self.proc.poll() is None else f"exit {self.proc.returncode}"
        return f"{self.name} ({status}), end of its log {self.log_path}:\n{self.log_tail(chars)}"

    def wait(self, timeout_s: float | None = None) -> int | None:
        """Wait for the child to end; its exit code, or None if it is still running after ``timeout_s``."""
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def wait_until(
        self, ready: Callable[[], bool], what: str, timeout_s: float = 60.0, interval_s: float = 0.2
    ) -> None:
        """Poll ``ready()`` until it is true; raise :class:`ChildFailedError` (with the log) as soon as the child
        exits, or when ``timeout_s`` runs out. The child is left running either way: stop it in your cleanup."""
        deadline = time.monotonic() + timeout_s
        while not ready():
            if self.proc.poll() is not None:
                raise ChildFailedError(f"{self.name} exited before {what}; {self.explain()}")
            if time.monotonic() > deadline:
                raise ChildFailedError(f"{self.name}: no {what} within {timeout_s:.0f} s; {self.explain()}")
            time.sleep(interval_s)

    def wait_for_url(self, url: str, status: int = 200, timeout_s: float = 60.0) -> None:
        """Until ``url`` answers ``status``."""
        last: list[int | None] = [None]

        def answered() -> bool:
            last[0] = http_status(url)
            return last[0] == status

        try:
            self.wait_until(answered, f"{url} answered {status}", timeout_s)
        except ChildFailedError:
            if self.proc.poll() is not None:
                raise
            raise ChildFailedError(
                f"{self.name}: {url} did not answer {status} within {timeout_s:.0f} s (last status {last[0]}); "
                + self.explain()
            ) from None

    def wait_for_port(self, port: int, host: str = "127.0.0.1", timeout_s: float = 30.0) -> None:
        """Until something listens on ``host:port``."""
        self.wait_until(lambda: port_open(port, host, timeout_s=1.0), f"listener on {host}:{port}", timeout_s, 0.05)

    def stop(self, grace_s: float = 10.0) -> int | None:
        """SIGTERM the process group, SIGKILL it if the leader has not ended after ``grace_s``; the exit code."""
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            self.wait(wait_s)
        return self.proc.poll()

    def kill(self) -> None:
        """SIGKILL the whole group at once: no shutdown handlers, no flushing, as in a power cut."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def spawn(
    argv: Sequence[str],
    log_path: Path,
    *,
    name: str | None = None,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
) -> Child:
    """Start ``argv`` in its own process group with stdout and stderr appended to ``log_path``; ``env`` is
    added to this process's environment (PYTHONUNBUFFERED=1 unless given, so a log tail has the last words).
    The child is also stopped at interpreter exit, should the caller's cleanup not run."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    child = Child(proc, log_path, name or Path(argv[0]).name)
    atexit.register(child.stop)
    return child


@dataclass
class ServerProcess(Child):
    """The app under uvicorn (see :func:`start_server`)."""

    port: int = 0
    base_url: str = ""


def start_server(
    log_path: Path,
    *,
    project: Path | None = None,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    workers: int = 1,
    python: str = sys.executable,
    wait_for: str = "/readyz",
    ready_timeout_s: float = 60.0,
    cwd: Path = ROOT,
) -> ServerProcess:
    """``uvicorn server.main:create_app --factory`` (the command line of :func:`server.core.protocol.server_command`)
    on 127.0.0.1, returned once ``wait_for`` answers 200; otherwise it is stopped and :class:`ChildFailedError`
    raised with its log.

    ``project``: the project folder it serves (GLIMPSE_PROJECT_ROOT, with the vote log in it); ``env`` more
    settings; ``port`` a fixed one (a replica restarted behind a proxy), else a free one; ``python`` the
    interpreter of the environment to serve from. ``wait_for="/healthz"`` returns once it serves at all (a
    server that is up but not ready)."""
    from server.core.protocol import server_command  # the server's packages only when a server is started

    port = port or free_port()
    settings: dict[str, str] = {}
    if project is not None:
        settings["GLIMPSE_PROJECT_ROOT"] = str(project)
        settings["GLIMPSE_FEEDBACK_DB"] = str(Path(project) / "data" / "feedback" / "feedback.db")
    cmd = [*server_command("127.0.0.1", port, python), "--log-level", "warning", "--workers", str(workers)]
    child = spawn(cmd, log_path, name="uvicorn", cwd=cwd, env={**settings, **(env or {})})
    server = ServerProcess(child.proc, child.log_path, child.name, port, f"http://127.0.0.1:{port}")
    try:
        server.wait_for_url(server.base_url + wait_for, timeout_s=ready_timeout_s)
    except ChildFailedError:
        server.stop()
        raise
    return server
