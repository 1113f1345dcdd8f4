"""Hostile input against the real app, in process: each case is one row of the table "Hostile input" in
docs/reliability.md.

Every answer is checked the same way: the status the table promises, never a 5xx, never a stack trace or a
file's content in the body, and for the API a JSON error naming what was wrong. The rows that need a real
HTTP server (raw request lines, slow clients) are in test_hostile_transport.py.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from server.main import create_app
from tests.fixtures.images import (
    HOSTILE_NON_IMAGES,
    encode,
    heic_start,
    photo,
    png_bomb,
    png_header,
    truncated_jpeg,
    write,
)
from tests.fixtures.project import prepare_project, run_pipeline
from tests.server.conftest import settings_for

MiB = 1024 * 1024
LEAKS = re.compile(r"Traceback|File \"/|site-packages|root:x:0:0|\bException\b")


@dataclass(frozen=True)
class Case:
    id: str  # the row in docs/reliability.md
    method: str
    url: str
    status: int
    error: str | None = None  # the JSON "error" code; None: a page or a success
    request: dict = field(default_factory=dict)  # httpx keyword arguments
    says: str = ""  # a word the message must contain
    row: str = ""  # the row in docs/reliability.md, when several cases share one (default: the id)


def upload(name: str, data: bytes, content_type: str = "image/jpeg", **form) -> dict:
    return {"files": {"file": (name, data, content_type)}, "data": form}


def vote(**changes) -> dict:
    body = {"image_id": "0" * 32, "vote": "up", "query": "a cat", "model_version": "1", "rank": 1} | changes
    return {"json": body}


JPEG = encode(photo(64, 48, 1), "JPEG")
POLYGLOT_JPEG = JPEG + b"<html><script>alert(1)</script></html>"  # a real JPEG with HTML after its end marker
POLYGLOT_GIF = b"GIF89a/*\x00\x00\x00\x00*/=1;alert(1)//"  # a GIF header that is also JavaScript
NESTED = b"[" * 4000 + b"]" * 4000

TRAVERSAL_ROW = "path traversal, URL-encoded, in every path parameter"

# fmt: off
CASES = [
    Case("upload over 10 MiB", "POST", "/api/search/image", 413, "upload_too_large",
         upload("big.jpg", b"\xff" * (10 * MiB + 1))),
    Case("request body over 12 MiB", "POST", "/api/search/image", 413, "body_too_large",
         upload("huge.jpg", b"\xff" * (12 * MiB + 1))),
    Case("truncated JPEG", "POST", "/api/search/image", 422, "broken_image", upload("cut.jpg", truncated_jpeg())),
    Case("PNG decompression bomb", "POST", "/api/search/image", 413, "image_too_large",
         upload("bomb.png", png_bomb(12_000), "image/png"), says="144,000,000 pixels"),
    Case("PNG of 30000 × 30000 pixels", "POST", "/api/search/image", 413, "image_too_large",
         upload("huge.png", png_header(30_000, 30_000), "image/png"), says="900,000,000 pixels"),
    Case("SVG named .jpg", "POST", "/api/search/image", 415, "not_an_image",
         upload("cat.jpg", HOSTILE_NON_IMAGES["svg.png"])),
    Case("HTML named .jpg", "POST", "/api/search/image", 415, "not_an_image",
         upload("cat.jpg", HOSTILE_NON_IMAGES["html.jpg"])),
    Case("PDF named .webp", "POST", "/api/search/image", 415, "not_an_image",
         upload("cat.webp", HOSTILE_NON_IMAGES["pdf.webp"], "image/webp")),
    Case("GIF/JavaScript polyglot", "POST", "/api/search/image", 415, "not_an_image",
         upload("x.gif", POLYGLOT_GIF, "image/gif")),
    Case("JPEG/HTML polyglot (a real picture)", "POST", "/api/search/image", 200, None,
         upload("x.jpg", POLYGLOT_JPEG)),
    Case("ICO (an image, not accepted)", "POST", "/api/search/image", 415, "unsupported_format",
         upload("x.ico", encode(photo(16, 16), "ICO"), "image/x-icon")),
    Case("HEIC, an iPhone's photo format", "POST", "/api/search/image", 415, "unsupported_format",
         upload("IMG_0001.HEIC", heic_start(), "image/heic"), says="save them as JPEG"),
    Case("AVIF picture", "POST", "/api/search/image", 200, None,
         upload("x.avif", encode(photo(64, 48, 2), "AVIF"), "image/avif")),
    Case("zero-byte file", "POST", "/api/search/image", 422, "empty_upload", upload("empty.jpg", b"")),
    Case("JPEG declared as text/plain", "POST", "/api/search/image", 200, None, upload("a.txt", JPEG, "text/plain")),
    Case("JSON sent to the upload form", "POST", "/api/search/image", 422, "invalid_request",
         {"json": {"image_id": "0" * 32}}, says="either"),
    Case("vote as text/plain", "POST", "/api/feedback", 415, "unsupported_media_type",
         {"content": b'{"vote": 1}', "headers": {"content-type": "text/plain"}}, says="application/json"),
    Case("query bytes not UTF-8", "GET", "/api/search?q=%ff%fe", 422, "invalid_request", says="UTF-8"),
    Case("query of control characters only", "GET", "/api/search?q=%00%01%1b%7f%c2%85", 422, "invalid_request",
         says="empty"),
    Case("control characters inside a query", "GET", "/api/search?q=red%00%1b%c2%85car&k=1", 200),
    Case("query of 501 characters", "GET", "/api/search?q=" + "x" * 501, 422, "invalid_request", says="500"),
    Case("query string over 16 KB", "GET", "/api/search?q=" + "x" * 20_000, 414, "query_too_long"),
    Case("k=0", "GET", "/api/search?q=cat&k=0", 422, "invalid_request", says="k"),
    Case("k=-1", "GET", "/api/search?q=cat&k=-1", 422, "invalid_request", says="k"),
    Case("k=10^9", "GET", "/api/search?q=cat&k=1000000000", 422, "invalid_request", says="k"),
    Case("k=10^30", "GET", "/api/search?q=cat&k=" + "9" * 30, 422, "invalid_request", says="k"),
    Case("k not a number", "GET", "/api/search?q=cat&k=NaN", 422, "invalid_request", says="k"),
    Case("k=0 on the picture form", "POST", "/api/search/image", 422, "invalid_request",
         upload("a.jpg", JPEG, k="0"), says="k"),
    Case("unknown model", "GET", "/api/search?q=cat&model=nope", 404, "unknown_model"),
    Case("model name with HTML", "GET", "/api/search?q=cat&model=%3Cscript%3E", 404, "unknown_model"),
    Case("unknown model on the page", "GET", "/search?q=cat&model=..%2F..%2Fetc", 422, None, says="model"),
    Case("vote for an unknown model version", "POST", "/api/feedback", 404, "unknown_model", vote(model_version="9")),
    *[
        Case(f"path traversal {path}", "GET", path, status, error, row=TRAVERSAL_ROW)
        for path, status, error in [
            ("/api/images/..%2F..%2F..%2Fetc%2Fpasswd", 404, "not_found"),
            ("/api/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd/thumbnail", 404, "not_found"),
            ("/api/images/..%252f..%252fetc%252fpasswd/description", 404, "not_found"),
            ("/api/images/%c0%ae%c0%ae%2fetc%2fpasswd", 404, "not_found"),
            ("/api/images/..%5c..%5cetc%5cpasswd", 422, "invalid_request"),
            ("/api/images/" + "0" * 31 + "%00", 422, "invalid_request"),
            ("/images/..%2F..%2F..%2Fetc%2Fpasswd", 404, None),
            ("/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd", 404, "not_found"),
            ("/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 404, "not_found"),
            ("/static/..%5c..%5c..%5cetc%5cpasswd", 404, "not_found"),
            ("/vendor/ort/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", 404, "not_found"),
            ("/vendor/htmx/%2e%2e%2f%2e%2e%2fpackage.json", 404, "not_found"),
        ]
    ],
    Case("vote body of 1 MB", "POST", "/api/feedback", 413, "body_too_large",
         {"content": b'{"query": "' + b"x" * MiB + b'"}', "headers": {"content-type": "application/json"}}),
    Case("JSON nested 4000 deep", "POST", "/api/feedback", 422, "invalid_request",
         {"content": NESTED, "headers": {"content-type": "application/json"}}),
    Case("Content-Length not a number", "POST", "/api/feedback", 400, "bad_request",
         {"content": b"{}", "headers": {"content-type": "application/json", "content-length": "12abc"}}),
]
# fmt: on


@pytest.fixture(scope="module")
def hostile_client(project, tmp_path_factory):
    folder, _ = project
    db = tmp_path_factory.mktemp("hostile-votes") / "feedback.db"
    with TestClient(create_app(settings_for(folder, feedback_db=db)), raise_server_exceptions=False) as client:
        yield client


def check_answer(response, case: Case) -> None:
    assert response.status_code == case.status, response.text[:500]
    assert response.status_code < 500
    assert not LEAKS.search(response.text), response.text[:2000]
    if case.error is not None:
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["error"] == case.error and body["message"], body
        assert case.says in body["message"], body
    elif case.says:
        assert case.says in response.text


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_request(hostile_client, case):
    response = hostile_client.request(case.method, case.url, **case.request)
    check_answer(response, case)


def test_a_polyglot_picture_is_searched_and_its_payload_never_echoed(hostile_client):
    response = hostile_client.post("/api/search/image", **upload("x.jpg", POLYGLOT_JPEG))
    assert response.status_code == 200 and response.json()["results"]
    assert "alert" not in response.text


def test_control_characters_are_dropped_from_the_query_that_is_searched(hostile_client):
    assert hostile_client.get("/api/search?q=red%00%1b%c2%85car&k=1").json()["query"] == "red car"


# --- HTML and JavaScript in queries and in a collection's own metadata ---------------------------------------

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_html_in_a_query_is_escaped_in_the_page_and_exact_in_json(hostile_client):
    page = hostile_client.get("/search", params={"q": XSS, "k": 3})
    assert page.status_code == 200
    assert_escaped(page.text)
    assert "&lt;script&gt;alert(" in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    answer = hostile_client.get("/api/search", params={"q": XSS, "k": 3})
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.json()["query"] == XSS  # JSON carries the text as it was; it is data, never markup


HOSTILE_FOLDER = '"><svg onload=alert(2)>'
HOSTILE_FILE = "<img src=x onerror=alert(3)>.jpg"
HOSTILE_CAMERA = "<script>alert(4)</script>"
HOSTILE_NOTES = {"licence": "javascript:alert(5)", "description": "A <b>bold</b> <script>alert(6)</script> claim"}


@pytest.fixture(scope="module")
def hostile_collection(tmp_path_factory):
    """A real pipeline run over a collection whose folder, file name, EXIF camera and manifest carry markup."""
    folder = tmp_path_factory.mktemp("hostile-project")
    params = prepare_project(folder, images=4)
    root = folder / "data/01_raw/demo"
    exif = Image.Exif()
    exif[272] = HOSTILE_CAMERA  # Model
    relative = f"{HOSTILE_FOLDER}/{HOSTILE_FILE}"
    write(root / relative, encode(photo(90, 60, seed=42), "JPEG", exif=exif))
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "collection", "licence", "description"])
        writer.writeheader()
        writer.writerow({"file": relative, "collection": HOSTILE_FOLDER} | HOSTILE_NOTES)
    run_pipeline(folder, params)
    with TestClient(create_app(settings_for(folder)), raise_server_exceptions=False) as client:
        yield client


def hostile_image(client) -> dict:
    for result in client.get("/api/search", params={"q": "a photo", "k": 10}).json()["results"]:
        if result["metadata"]["path"].endswith(HOSTILE_FILE):
            return result
    raise AssertionError("the picture with the hostile name was not indexed")


def assert_escaped(html: str) -> None:
    """No markup from the data survives as markup: every tag it opens, and the quote that would end an
    attribute, are escaped."""
    for raw in ("<script>alert", "<img src=x", "<svg onload", '"><svg', "<b>bold"):
        assert raw not in html
    assert "javascript:alert" not in re.findall(r'(?:href|src|action)="([^"]*)"', html)


def test_markup_in_file_names_exif_and_manifests_is_data_in_json(hostile_collection):
    result = hostile_image(hostile_collection)
    metadata = result["metadata"]
    assert metadata["path"] == f"{HOSTILE_FOLDER}/{HOSTILE_FILE}" and metadata["camera"] == HOSTILE_CAMERA
    assert metadata["licence"] == HOSTILE_NOTES["licence"]
    described = hostile_collection.get(f"/api/images/{result['image_id']}/description")
    assert described.headers["content-type"] == "application/json"
    assert "alert(6)" in described.json()["description"]["long"]  # quoted as the source says, as text


def test_markup_in_file_names_exif_and_manifests_is_escaped_in_every_page(hostile_collection):
    image_id = hostile_image(hostile_collection)["image_id"]
    pages = {
        "home": hostile_collection.get("/"),
        "results": hostile_collection.get("/search", params={"q": "a photo", "k": 10}),
        "image": hostile_collection.get(f"/images/{image_id}"),
        "similar": hostile_collection.get("/search/similar", params={"image_id": image_id}),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert_escaped(page.text)
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in pages["image"].text  # the camera, shown as text
    assert "&lt;img src=x onerror=alert(3)&gt;.jpg" in pages["image"].text  # the file name, shown as text


PAGE_CASES = {  # rows of docs/reliability.md checked by the tests above rather than by a Case
    "HTML/JS in a query": test_html_in_a_query_is_escaped_in_the_page_and_exact_in_json,
    "HTML/JS in folder, file name, EXIF, manifest": (
        test_markup_in_file_names_exif_and_manifests_is_escaped_in_every_page,
        test_markup_in_file_names_exif_and_manifests_is_data_in_json,
    ),
}


def test_the_reliability_table_lists_exactly_these_cases(project_root):
    from tests.server.test_hostile_transport import TRANSPORT_CASES

    page = (project_root / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = page.split("\n## Hostile input\n", 1)[1].split("\n#", 1)[0]
    rows = {m.group(1) for m in re.finditer(r"^\| ([^|]+?) \|", section, re.M)} - {"Input", "---"}
    expected = {c.row or c.id for c in CASES} | set(TRANSPORT_CASES) | set(PAGE_CASES)
    assert rows == expected, {"missing from docs/reliability.md": expected - rows, "not tested": rows - expected}
