import os
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.core.config import Settings
from server.main import create_app

# A running deployment to send the API tests to instead of an app in this process (tests/deploy/test_scale_out.py
# runs them through its proxy); tests that need the app's state or log records in this process are skipped then.
SERVER = os.environ.get("GLIMPSE_TEST_SERVER", "")
in_process = pytest.mark.skipif(bool(SERVER), reason="needs the app in this process (its state, logs or metrics)")


def settings_for(folder, **overrides) -> Settings:
    overrides.setdefault("feedback_db", Path(folder) / "feedback" / "feedback.db")  # votes stay in the scratch project
    return Settings(project_root=folder, alias_refresh_s=0.0, **overrides)


@pytest.fixture(scope="session")
def client(project):
    if SERVER:
        with httpx.Client(base_url=SERVER, timeout=60) as remote:
            yield remote
        return
    folder, _ = project
    with TestClient(create_app(settings_for(folder))) as test_client:
        yield test_client
