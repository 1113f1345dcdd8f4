"""The child-process harness with real processes: ready waits, failing fast with the log, stopping a whole
process group, and children that die with their parent."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from tools.processes import ChildFailedError, free_port, http_status, port_open, spawn


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def gone(pid: int, timeout_s: float = 10.0) -> bool:
    """Whether ``pid`` has ended within ``timeout_s`` (a zombie waiting to be reaped counts as ended)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def logged_pid(child, timeout_s: float = 10.0) -> int:
    """The pid a child printed as ``pid <n>`` in its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in child.log_tail().splitlines():
            if line.startswith("pid "):
                return int(line.split()[1])
        time.sleep(0.05)
    raise AssertionError(f"no pid in the log:\n{child.log_tail()}")


def test_a_url_and_a_port_are_waited_for(tmp_path):
    port = free_port()
    assert not port_open(port) and http_status(f"http://127.0.0.1:{port}/") is None
    server = spawn(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], tmp_path / "http.log", cwd=tmp_path
    )
    with server:
        server.wait_for_port(port)
        server.wait_for_url(f"http://127.0.0.1:{port}/", timeout_s=30)
        assert http_status(f"http://127.0.0.1:{port}/missing") == 404
    assert server.returncode is not None and not port_open(port)


def test_a_child_that_exits_fails_the_wait_at_once_with_its_log(tmp_path):
    child = spawn(python("import sys; print('cannot open the index'); sys.exit(3)"), tmp_path / "c.log", name="svc")
    started = time.monotonic()
    with pytest.raises(ChildFailedError) as failure:
        child.wait_until(lambda: False, "ready", timeout_s=60)
    assert time.monotonic() - started < 10  # not the 60 s timeout
    message = str(failure.value)
    assert "svc exited before ready" in message and "exit 3" in message and "cannot open the index" in message


def test_a_child_not_ready_in_time_fails_and_keeps_running_until_stopped(tmp_path):
    child = spawn(python("print('starting', flush=True); import time; time.sleep(60)"), tmp_path / "c.log")
    with pytest.raises(ChildFailedError, match=r"did not answer 200 within 1 s \(last status None\)"):
        child.wait_for_url(f"http://127.0.0.1:{free_port()}/readyz", timeout_s=1)
    assert child.returncode is None and "starting" in child.explain()
    assert child.stop() == -signal.SIGTERM


def test_stop_ends_the_whole_process_group(tmp_path):
    code = (
        "import subprocess, sys, time\n"
        "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('pid', grandchild.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = spawn(python(code), tmp_path / "c.log")
    grandchild = logged_pid(child)
    assert os.getpgid(grandchild) == child.pid  # in the child's own group, not ours
    assert os.getpgid(child.pid) != os.getpgid(0)
    child.stop()
    assert gone(child.pid) and gone(grandchild)


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    code = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('pid', os.getpid(), flush=True)\n"
        "time.sleep(60)\n"
    )
    child = spawn(python(code), tmp_path / "c.log")
    assert logged_pid(child) == child.pid  # SIGTERM is ignored from here on
    started = time.monotonic()
    assert child.stop(grace_s=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_children_die_with_the_parent_that_started_them(tmp_path):
    """A parent killed without any cleanup (SIGKILL) takes its children with it (Linux)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from tools.processes import spawn\n"
        f"child = spawn([sys.executable, '-c', 'import time; time.sleep(60)'], Path({str(tmp_path)!r}) / 'c.log')\n"
        "print('pid', child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    with open(tmp_path / "parent.log", "wb") as log:
        parent = subprocess.Popen(python(code), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while "pid " not in (tmp_path / "parent.log").read_text():
            assert parent.poll() is None and time.monotonic() < deadline, (tmp_path / "parent.log").read_text()
            time.sleep(0.05)
        child = int((tmp_path / "parent.log").read_text().split()[1])
        assert not gone(child, timeout_s=0.2)
        parent.kill()
        parent.wait(timeout=10)
        assert gone(child)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_free_ports_can_be_bound():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
