"""Hub reachability: offline settings first, then a one-second probe of the endpoint."""

from __future__ import annotations

import socket
import time

import pytest

from models.hub import PROBE_TIMEOUT_S, hub_unreachable_reason


@pytest.fixture
def online(monkeypatch):
    """No offline setting anywhere (the test session sets HF_HUB_OFFLINE before huggingface_hub is imported)."""
    from huggingface_hub import constants

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return constants


def test_offline_variable_is_the_reason(monkeypatch, online):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_unreachable_reason() == "HF_HUB_OFFLINE is set"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "true")
    assert hub_unreachable_reason() == "TRANSFORMERS_OFFLINE is set"


def test_offline_flag_read_at_import_is_a_reason(monkeypatch, online):
    monkeypatch.setattr(online, "HF_HUB_OFFLINE", True)
    assert "imported with HF_HUB_OFFLINE" in hub_unreachable_reason()


def test_an_endpoint_that_refuses_is_unreachable(monkeypatch, online):
    monkeypatch.setattr(online, "ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    started = time.perf_counter()
    assert hub_unreachable_reason() == f"the model hub did not answer within {PROBE_TIMEOUT_S:g} s"
    assert time.perf_counter() - started < PROBE_TIMEOUT_S + 0.5


def test_an_endpoint_that_answers_is_reachable(monkeypatch, online):
    with socket.create_server(("127.0.0.1", 0)) as server:
        monkeypatch.setattr(online, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub_unreachable_reason() is None
