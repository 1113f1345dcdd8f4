"""The first page and the health probes, against the real app and a real (small) images table."""

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pipeline.pipelines.ingest.nodes import ingest_images, scan_folder
from server.core.config import Settings
from server.main import create_app
from tests.fixtures.images import encode, photo, write


@pytest.fixture
def images_table(tmp_path):
    root = tmp_path / "photos"
    for i in range(3):
        write(root / "holiday" / f"{i}.jpg", encode(photo(seed=i), "JPEG"))
    write(root / "pets" / "cat.png", encode(photo(seed=10), "PNG"))
    write(root / "pets" / "<script>.png", encode(photo(seed=11), "PNG"))
    params = {
        "root": str(root),
        "extensions": [".jpg", ".png"],
        "max_bytes": 10**7,
        "max_pixels": 10**7,
        "thumbnail_size": 64,
        "thumbnail_quality": 80,
        "workers": 1,
    }
    _, images, _ = ingest_images(scan_folder(params), pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), params)
    path = tmp_path / "images.parquet"
    images.to_parquet(path)
    return path


def client_for(table_path):
    return TestClient(create_app(Settings(project_root=table_path.parent, images_table=table_path)))


def test_home_page_lists_the_collection_size(images_table):
    response = client_for(images_table).get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="en">' in html and html.count("<h1") == 1
    assert "<strong>5</strong> pictures" in html
    assert "holiday" in html and ">3<" in html
    assert 'href="#main"' in html and '<main id="main"' in html


def test_readyz_says_why_it_is_not_ready(images_table):
    """An images table alone is not enough to answer queries: no feature store, no registry."""
    client = client_for(images_table)
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "feature store" in ready.json()["problems"][0]
    search = client.get("/api/search", params={"q": "cat"})
    assert search.status_code == 503 and search.json()["error"] == "not_ready"


def test_missing_table_is_explained_not_crashed(tmp_path):
    client = client_for(tmp_path / "absent.parquet")
    page = client.get("/")
    assert page.status_code == 200 and "run the pipeline" in page.text
    assert client.get("/readyz").status_code == 503


def test_corrupt_table_is_explained_not_crashed(tmp_path):
    broken = tmp_path / "images.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    client = client_for(broken)
    assert client.get("/").status_code == 200
    assert client.get("/readyz").status_code == 503


def test_static_css_is_served(images_table):
    response = client_for(images_table).get("/static/css/glimpse.css")
    assert response.status_code == 200 and "focus-visible" in response.text


def test_settings_read_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GLIMPSE_IMAGES_TABLE", str(tmp_path / "x.parquet"))
    assert Settings().images_table == tmp_path / "x.parquet"
    relative = Settings(images_table="data/t.parquet")
    assert relative.path(relative.images_table) == relative.project_root / "data/t.parquet"
