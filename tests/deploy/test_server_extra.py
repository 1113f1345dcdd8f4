"""The server runs from its own extra alone: ``.[server]`` installed with deploy/server-excludes.txt (what the
server image installs) serves text, image and similar searches, pages, images and votes over a real pipeline's
artifacts, and that environment holds no torch, dask, kedro, matplotlib or scikit-learn."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from deploy.images import PIPELINE_ONLY
from tests.fixtures.images import encode, photo
from tests.fixtures.server_process import start_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("glimpse_install_tool", ROOT / "tools" / "install.py")
install_tool = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(install_tool)


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


@pytest.fixture(scope="module")
def server_python(tmp_path_factory) -> Path:
    if not (Path(sys.executable).parent / "uv").exists():
        pytest.skip("uv is not installed in this venv (make setup installs it); pip cannot leave dask out")
    venv = tmp_path_factory.mktemp("server-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    args = ["-c", str(ROOT / "constraints.txt"), "--excludes", str(ROOT / "deploy/server-excludes.txt")]
    assert install_tool.install([*args, "-e", f"{ROOT}[server]"], python=str(python)) == 0
    print(f"\nserver-only environment: {_size_mb(_site_packages(venv)):.0f} MB of site-packages")
    return python


def test_the_server_extra_carries_none_of_the_pipelines_packages(server_python):
    probe = "import importlib.util as u, json, sys; print(json.dumps([m for m in sys.argv[1:] if u.find_spec(m)]))"
    found = subprocess.run([str(server_python), "-c", probe, *PIPELINE_ONLY], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == []
    full_mlflow = subprocess.run(
        [str(server_python), "-c", "import importlib.metadata as m; m.distribution('mlflow')"], capture_output=True
    )
    assert full_mlflow.returncode != 0, "the full mlflow (UI server, scikit-learn, matplotlib) came in"


def test_the_server_extra_alone_serves_every_kind_of_query(server_python, project, tmp_path):
    folder, _ = project
    server = start_server(folder, tmp_path / "uvicorn.log", python=str(server_python), ready_timeout_s=120)
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            text = client.get("/api/search", params={"q": "a photo", "k": 3})
            assert text.status_code == 200, text.text
            results = text.json()["results"]
            assert len(results) == 3 and all(r["description"]["alt"] for r in results)
            first = results[0]["image_id"]
            upload = {"file": ("q.jpg", encode(photo(64, 48, seed=3), "JPEG"), "image/jpeg")}
            by_image = client.post("/api/search/image", files=upload, data={"k": "2"})
            assert by_image.status_code == 200, by_image.text
            assert len(by_image.json()["results"]) == 2
            similar = client.post("/api/search/image", data={"image_id": first, "k": "2"})
            assert similar.status_code == 200, similar.text
            page = client.get("/search", params={"q": "a photo"})
            assert page.status_code == 200 and first in page.text
            assert client.get(f"/api/images/{first}/thumbnail").status_code == 200
            vote = {"image_id": first, "vote": "up", "query": "a photo", "model_version": "1"}
            assert client.post("/api/feedback", json=vote).status_code == 201
    finally:
        server.stop()
    assert "Traceback" not in server.log_tail(100_000), server.log_tail()
