"""A full disk answers 503, not data loss: votes and the searches-served counts of the real server process.

The disk really runs out under the running uvicorn process, two ways:

- ``tmpfs``: the vote database lives on a 2 MB tmpfs, and a filler file takes every byte left (ENOSPC). Needs
  permission to mount (root with CAP_SYS_ADMIN); skipped with the reason otherwise.
- ``rlimit``: the server's RLIMIT_FSIZE is lowered to 0 from outside (prlimit), so every write it makes to any
  file fails with EFBIG, as on a full disk (Python ignores SIGXFSZ, so the write fails instead of killing it).
  Needs no privilege: this one runs everywhere.

Either way: votes acknowledged before stay, the database passes ``PRAGMA integrity_check``, a vote that cannot be
written answers 503 JSON with a clear message and is not stored, searches keep answering 200, the searches made
while the disk was full are counted once there is space again (the counter keeps them in memory until a write
succeeds), and votes work again without a restart.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures.server_process import start_server
from tools.processes import ServerProcess

pytestmark = pytest.mark.slow

VOTES_BEFORE = 12
SEARCHES_BEFORE = 5
SEARCHES_WHILE_FULL = 4


@dataclass
class Disk:
    db: Path
    fill: Callable[[ServerProcess], None]
    free: Callable[[ServerProcess], None]
    says_disk_full: bool  # the 503 can tell a full disk from other failures (ENOSPC; EFBIG looks like an I/O error)


@contextlib.contextmanager
def tmpfs_disk(tmp_path: Path) -> Iterator[Disk]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); the rlimit case runs")
    filler = mount / "filler"

    def fill(_: ServerProcess) -> None:
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for chunk in (1 << 16, 1 << 12, 1):  # to the last byte
                with contextlib.suppress(OSError):  # ENOSPC
                    while True:
                        os.write(fd, b"\0" * chunk)
        finally:
            os.close(fd)
        probe = os.open(mount / "probe", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            with pytest.raises(OSError, match="No space left"):  # really nothing left
                os.write(probe, b"\0" * 8192)
        finally:
            os.close(probe)

    try:
        yield Disk(mount / "feedback.db", fill, lambda _: filler.unlink(), says_disk_full=True)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@contextlib.contextmanager
def rlimit_disk(tmp_path: Path) -> Iterator[Disk]:
    def limit(server: ServerProcess, soft: int) -> None:
        _, hard = resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))

    yield Disk(
        tmp_path / "feedback" / "feedback.db",
        lambda server: limit(server, 0),
        lambda server: limit(server, resource.RLIM_INFINITY),
        says_disk_full=False,
    )


def stored(db: Path) -> dict[int, str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(conn.execute("SELECT id, query_text FROM feedback"))


@pytest.mark.parametrize("make_disk", [tmpfs_disk, rlimit_disk], ids=["tmpfs", "rlimit"])
def test_a_full_disk_answers_503_and_loses_nothing(project, tmp_path, make_disk):
    folder, _ = project
    with make_disk(tmp_path) as disk:
        env = {
            "GLIMPSE_FEEDBACK_DB": str(disk.db),
            "GLIMPSE_SERVED_FLUSH_S": "0.2",  # the counter tries (and fails) to write several times while full
            "GLIMPSE_FEEDBACK_VOTES_PER_MINUTE": "100000",
            "GLIMPSE_FEEDBACK_VOTES_PER_MINUTE_PER_CLIENT": "100000",
        }
        server = start_server(folder, tmp_path / "uvicorn.log", env)
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                image_id = client.get("/api/search", params={"q": "photo", "k": 1}).json()["results"][0]["image_id"]

                def vote(query: str) -> httpx.Response:
                    body = {"image_id": image_id, "vote": "up", "query": query, "model_version": "1", "rank": 1}
                    return client.post("/api/feedback", json=body)

                acknowledged = {}
                for i in range(VOTES_BEFORE):
                    answer = vote(f"before {i}")
                    assert answer.status_code == 201, answer.text
                    acknowledged[answer.json()["id"]] = f"before {i}"
                for i in range(SEARCHES_BEFORE - 1):  # the first search above counts too
                    assert client.get("/api/search", params={"q": f"search {i}"}).status_code == 200
                searches = {
                    v["model_version"]: v["searches"] for v in client.get("/api/feedback/stats").json()["versions"]
                }
                assert searches == {"1": SEARCHES_BEFORE}

                disk.fill(server)
                refused = vote("while full")
                assert refused.status_code == 503 and refused.headers["content-type"] == "application/json"
                body = refused.json()
                assert body["error"] == "feedback_unavailable" and "votes cannot be recorded" in body["message"]
                if disk.says_disk_full:
                    assert "disk is full" in body["message"] and "not saved" in body["message"]
                assert str(disk.db) not in body["message"] and "Traceback" not in refused.text
                assert vote("while full again").status_code == 503
                for i in range(SEARCHES_WHILE_FULL):
                    found = client.get("/api/search", params={"q": f"while full {i}"})
                    assert found.status_code == 200 and found.json()["results"]
                assert client.get("/api/feedback/stats").status_code == 503  # its flush cannot write either
                time.sleep(1.0)  # several periodic flushes fail meanwhile
                assert server.proc.poll() is None

                disk.free(server)
                on_disk = stored(disk.db)  # before any new write: nothing lost, nothing half-written
                assert on_disk == acknowledged  # and the refused votes were not stored

                again = vote("after")
                assert again.status_code == 201, again.text
                assert client.get("/api/feedback/summary").json()["total"] == VOTES_BEFORE + 1
                searches = {
                    v["model_version"]: v["searches"] for v in client.get("/api/feedback/stats").json()["versions"]
                }
                assert searches == {"1": SEARCHES_BEFORE + SEARCHES_WHILE_FULL}
            assert server.proc.poll() is None
        finally:
            server.stop()
            server.proc.wait(timeout=30)  # before the tmpfs is unmounted
        assert stored(disk.db) == acknowledged | {again.json()["id"]: "after"}
