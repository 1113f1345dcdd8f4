"""The server answers text and image queries without importing torch (fresh interpreter, real app)."""

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

SCRIPT = """
import sys

import pytest
from fastapi.testclient import TestClient
from server.core.config import Settings
from server.main import create_app

client = TestClient(create_app(Settings(project_root={folder!r})))
text = client.get("/api/search", params={{"q": "a red car", "k": 3}})
assert text.status_code == 200, text.text
image_id = text.json()["results"][0]["image_id"]
image = client.post("/api/search/image", data={{"image_id": image_id, "k": 3}})
assert image.status_code == 200, image.text
heavy = ("torch", "torchvision", "open_clip", "timm", "transformers")
print(sorted(m for m, mod in sys.modules.items() if mod is not None and m.split(".")[0] in heavy))
"""


@pytest.mark.slow
def test_server_query_paths_import_no_torch(project):
    folder, _ = project
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(folder=str(folder))], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
