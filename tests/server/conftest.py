from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.core.config import Settings
from server.main import create_app


def settings_for(folder, **overrides) -> Settings:
    overrides.setdefault("feedback_db", Path(folder) / "feedback" / "feedback.db")  # votes stay in the scratch project
    return Settings(project_root=folder, alias_refresh_s=0.0, **overrides)


@pytest.fixture(scope="session")
def client(project):
    folder, _ = project
    with TestClient(create_app(settings_for(folder))) as test_client:
        yield test_client
