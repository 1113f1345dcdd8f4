"""Shared test setup: no telemetry, no hub access, and the project root for tests that need it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """A scratch project the real pipeline ran over (12 photos, a tiny model): (folder, run parameters); or the
    project of a running deployment the API tests are pointed at (GLIMPSE_TEST_PROJECT, with
    GLIMPSE_TEST_SERVER: tests/deploy/test_scale_out.py)."""
    from tests.fixtures.project import build_project

    given = os.environ.get("GLIMPSE_TEST_PROJECT")
    if given:
        return Path(given), {}

    folder = tmp_path_factory.mktemp("project")
    params = build_project(folder)
    return folder, params


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on loopback for the session (skips where it is not installed)."""
    from tests.fixtures.services import ServiceMissingError, redis_server

    try:
        with redis_server(tmp_path_factory.mktemp("redis")) as url:
            yield url
    except ServiceMissingError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A real PostgreSQL cluster on loopback for the session (skips where it is not installed)."""
    from tests.fixtures.services import ServiceMissingError, postgres_server

    try:
        with postgres_server(tmp_path_factory.mktemp("postgres")) as postgres:
            yield postgres.url
    except ServiceMissingError as exc:
        pytest.skip(str(exc))


# --- test tiers ------------------------------------------------------------------------------------------------
# `make test-fast` runs `-m "not slow and not e2e"`. A test whose own call takes longer than this is `slow`;
# the ones that are not marked are listed at the end of every run (timing is noisy here, so it is a list to read,
# not a failure).
SLOW_CALL_S = 10.0
_unmarked_slow: list[tuple[str, float]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.duration > SLOW_CALL_S and not {"slow", "e2e"} & set(report.keywords):
        _unmarked_slow.append((report.nodeid, report.duration))


def pytest_terminal_summary(terminalreporter) -> None:
    if _unmarked_slow:
        terminalreporter.section(f"tests over {SLOW_CALL_S:.0f} s not marked slow")
        for nodeid, seconds in sorted(_unmarked_slow, key=lambda item: -item[1]):
            terminalreporter.write_line(f"{seconds:6.1f} s  {nodeid}")
