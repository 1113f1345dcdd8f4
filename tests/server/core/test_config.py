"""Service URLs in the settings are checked at start, so a typo names its setting instead of failing a request."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.core.config import Settings


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("redis_url", "localhost:6379", "must start with redis://"),
        ("redis_url", "redis://cache:99999/0", "is not a URL"),
        ("online_store_url", "http://cache:6379", "must start with redis://"),
        ("feedback_url", "mysql://db/glimpse", "must start with postgresql://"),
        ("feedback_url", "postgresql://db:port/glimpse", "is not a URL"),
    ],
)
def test_a_malformed_service_url_fails_at_start_naming_the_setting(setting: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**{setting: value})
    error = caught.value.errors()[0]
    assert error["loc"] == (setting,)
    assert message in error["msg"]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("redis_url", ""),
        ("redis_url", "redis://cache:6379/0"),
        ("redis_url", "rediss://user:secret@cache:6380/2"),
        ("redis_url", "unix:///run/redis.sock?db=1"),
        ("online_store_url", "redis://cache:6379/1"),
        ("feedback_url", "postgresql://glimpse@db:5432/glimpse"),
        ("feedback_url", "postgres:///glimpse?host=/run/postgresql"),
    ],
)
def test_well_formed_service_urls_are_kept(setting: str, value: str) -> None:
    assert getattr(Settings(**{setting: value}), setting) == value


def test_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLIMPSE_REDIS_URL", "cache:6379")
    with pytest.raises(ValidationError, match="redis_url"):
        Settings()
