"""Hostile input that needs a real HTTP server: raw request lines, slow clients, symlinks out of the collection.

The app runs under uvicorn exactly as deployed (``--http server.core.protocol:HTTP``) with short deadlines
(headers 2 s, body 2 s) so the slow-client cases take seconds. Requests are written to a socket byte for byte,
because an HTTP client library would normalise the paths under test. Each entry of ``TRANSPORT_CASES`` is a
row of the table "Hostile input" in docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time

import httpx
import pytest

from tests.fixtures.server_process import start_server

pytestmark = pytest.mark.slow

HEADER_TIMEOUT_S = 2
BODY_TIMEOUT_S = 2
LEAKS = re.compile(rb"Traceback|File \"/|site-packages|root:x:0:0")


@pytest.fixture(scope="module")
def server(project, tmp_path_factory):
    folder, _ = project
    logs = tmp_path_factory.mktemp("hostile-transport")
    env = {
        "GLIMPSE_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "GLIMPSE_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "GLIMPSE_FEEDBACK_DB": str(logs / "feedback.db"),
    }
    running = start_server(folder, logs / "uvicorn.log", env)
    host, port = running.base_url.removeprefix("http://").split(":")
    running.address = (host, int(port))
    yield running
    running.stop()
    assert "Traceback" not in running.log_tail(200_000), running.log_tail()


def exchange(address, data: bytes, *, timeout: float = 20.0) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    with socket.create_connection(address, timeout=timeout) as conn:
        conn.sendall(data)
        return read_all(conn)


def read_all(conn: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := conn.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def still_serving(server) -> None:
    response = httpx.get(server.base_url + "/api/search", params={"q": "a photo", "k": 1}, timeout=10)
    assert response.status_code == 200


RAW_PATHS = [
    "/static/../../../../etc/passwd",
    "/static/./../../../../etc/passwd",
    "/vendor/ort/../../../../../etc/passwd",
    "/api/images/../../../../etc/passwd",
    "/images/../../../../etc/passwd",
    "/static/..\\..\\..\\..\\etc\\passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static//etc/passwd",
    "//etc/passwd",
]


def test_raw_dot_dot_paths(server):
    for path in RAW_PATHS:
        answer = exchange(server.address, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert status_of(answer) == 404, (path, answer[:300])
        assert not LEAKS.search(answer), path
    still_serving(server)


def test_a_10_mb_request_line_is_refused_by_the_http_parser(server):
    query = b"x" * (10 * 1024 * 1024)
    answer = exchange(server.address, b"GET /api/search?q=" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(answer) == 400 and not LEAKS.search(answer)
    still_serving(server)


def test_a_body_sent_too_slowly_gets_408(server):
    with socket.create_connection(server.address, timeout=20) as conn:
        conn.sendall(
            b"POST /api/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\nConnection: close\r\n\r\n{"
        )
        started = time.monotonic()
        answer = b""
        for _ in range(int(BODY_TIMEOUT_S * 4) + 10):  # a byte every 0.5 s: far slower than the deadline allows
            time.sleep(0.5)
            try:
                conn.sendall(b" ")
            except OSError:
                break
        answer = read_all(conn)
        waited = time.monotonic() - started
    assert status_of(answer) == 408, answer[:300]
    assert b'"error":"body_timeout"' in answer
    assert BODY_TIMEOUT_S <= waited < BODY_TIMEOUT_S + 8
    still_serving(server)


def test_headers_sent_too_slowly_get_408_and_others_are_served_meanwhile(server):
    """Slowloris: 40 connections trickle header bytes. Searches go on being answered, and every slow
    connection is answered 408 and closed once the header deadline passes."""
    slow = []
    for _ in range(40):
        conn = socket.create_connection(server.address, timeout=20)
        conn.sendall(b"GET /api/search?q=cat HTTP/1.1\r\nHost: x\r\n")
        slow.append(conn)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            for conn in slow:
                with contextlib.suppress(OSError):
                    conn.sendall(b"X")
            time.sleep(0.25)

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    try:
        for _ in range(5):
            started = time.monotonic()
            still_serving(server)
            assert time.monotonic() - started < 5
        answers = [read_all(conn) for conn in slow]
    finally:
        stop.set()
        feeder.join()
        for conn in slow:
            conn.close()
    assert all(status_of(a) == 408 and b"header_timeout" in a for a in answers), {a[:80] for a in answers}


def test_an_idle_connection_is_closed(server):
    with socket.create_connection(server.address, timeout=HEADER_TIMEOUT_S + 10) as conn:
        started = time.monotonic()
        answer = read_all(conn)  # never send anything
        waited = time.monotonic() - started
    # The deadline runs from the moment uvicorn accepted the connection, a hair before connect() returns here.
    assert status_of(answer) == 408 and HEADER_TIMEOUT_S - 0.1 <= waited < HEADER_TIMEOUT_S + 5


def test_a_keep_alive_connection_serves_several_requests_in_time(server):
    """The header deadline restarts after each response: a normal persistent connection is not cut off."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
            time.sleep(HEADER_TIMEOUT_S * 0.6)  # each pause alone is within the deadline, all three are not


def test_pipelined_requests_are_all_answered(server):
    """Requests sent back to back on one connection: each is answered, and no header deadline cuts one off."""
    request = b"GET /api/search?q=a+photo&k=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = exchange(server.address, request * 3 + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200 OK") == 4 and b"header_timeout" not in answer


def test_a_symlink_out_of_the_collection_is_not_served(server, project):
    """An image whose file is replaced by a symlink to a file outside the collection root is refused."""
    folder, _ = project
    root = folder / "data/01_raw/demo"
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        top = client.get("/api/search", params={"q": "a photo", "k": 1}).json()["results"][0]
        original = root / top["metadata"]["path"]
        saved = original.read_bytes()
        secret = folder / "secret.jpg"
        secret.write_bytes(b"SECRET" + saved)
        original.unlink()
        original.symlink_to(secret)
        try:
            answer = client.get(top["image_url"])
        finally:
            original.unlink()
            original.write_bytes(saved)
        assert answer.status_code == 404 and answer.json()["error"] == "image_file_missing"
        assert b"SECRET" not in answer.content
        assert client.get(top["image_url"]).content == saved


TRANSPORT_CASES = {
    "raw ../ in any path": test_raw_dot_dot_paths,
    "10 MB query string": test_a_10_mb_request_line_is_refused_by_the_http_parser,
    "body sent 1 byte per 0.5 s": test_a_body_sent_too_slowly_gets_408,
    "headers sent 1 byte per 0.25 s, 40 connections": (
        test_headers_sent_too_slowly_get_408_and_others_are_served_meanwhile
    ),
    "connection opened, nothing sent": test_an_idle_connection_is_closed,
    "symlink from the collection to a file outside": test_a_symlink_out_of_the_collection_is_not_served,
}
