"""The HTML pages without JavaScript (plain form posts) and the fragments HTMX asks for, over a real collection."""

import re

import pytest

from tests.fixtures.images import encode, photo
from tests.server.conftest import SERVER, in_process

RESULT = re.compile(r'<li class="result" id="result-([0-9a-f]{32})"')


def results_of(html: str) -> list[str]:
    return RESULT.findall(html)


def test_text_search_page_lists_described_results(client):
    response = client.get("/search", params={"q": "a noisy photo", "k": "5"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    ids = results_of(html)
    assert len(ids) == 5 and html.count("<h1") == 1
    assert "5 results for “a noisy photo”" in html
    for image_id in ids:
        alt = re.search(rf'src="/api/images/{image_id}/thumbnail" alt="([^"]+)"', html).group(1)
        assert 0 < len(alt) <= 125
        assert f'aria-describedby="long-{image_id}"' in html and f'id="long-{image_id}"' in html
        # Label in Name (WCAG 2.5.3): each name starts with the words on the control, then names the picture.
        assert f'aria-label="Good match: {alt}">' in html and f'aria-label="Not it: not a match for {alt}">' in html
        assert f'aria-label="More like this: {alt}">More like this</a>' in html
    assert html.count('<span class="vote-text">Good</span>') == html.count('<span class="vote-text">Not it</span>') == 5
    assert 'role="status" aria-live="polite"' in html  # the live region is in the page from the start


def test_htmx_gets_only_the_fragment_with_version_headers(client):
    response = client.get("/search", params={"q": "photo", "k": "3"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text and len(results_of(response.text)) == 3
    assert response.headers["x-glimpse-model"] == "production"
    assert response.headers["x-glimpse-model-version"] == "1"
    assert re.fullmatch(r"[0-9a-f]{12}", response.headers["x-glimpse-index-version"])
    assert "HX-Request" in response.headers["vary"]
    restore = client.get(
        "/search", params={"q": "photo"}, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text  # history restores need the whole page


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"q": "   "}, "q", "Type a few words"),
        ({"q": "x" * 600}, "q", "the limit is 500"),
        ({"q": "cat", "k": "many"}, "k", "Choose how many"),
        ({"q": "cat", "k": "1000"}, "k", "between 1 and 100"),
        ({"q": "cat", "model": "nope"}, "model", "There is no model “nope”"),
    ],
)
def test_bad_input_is_explained_on_the_page(client, params, field, message):
    response = client.get("/search", params=params)
    assert response.status_code == 422
    html = response.text
    assert message in html and "Please check your search" in html
    assert f'id="{field}"' in html and f'href="#{field}"' in html
    if field in ("q", "k", "model"):
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html, re.S)


def test_hostile_query_is_escaped(client):
    html = client.get("/search", params={"q": '<script>alert(1)</script>"onload="x'}).text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_search_by_uploaded_picture_and_its_errors(client):
    upload = {"file": ("query.png", encode(photo(70, 50, seed=3), "PNG"), "image/png")}
    response = client.post("/search/image", files=upload, data={"k": "4"})
    assert response.status_code == 200 and len(results_of(response.text)) == 4
    assert "pictures like yours" in response.text
    missing = client.post("/search/image", data={"k": "4"})
    assert missing.status_code == 422 and "Choose a picture" in missing.text
    junk = client.post("/search/image", files={"file": ("x.png", b"not an image", "image/png")})
    assert junk.status_code == 415 and "not an image" in junk.text  # the API's status for the same upload
    cut = encode(photo(300, 200, seed=4), "JPEG")[:400]
    broken = client.post("/search/image", files={"file": ("x.jpg", cut, "image/jpeg")})
    assert broken.status_code == 422 and "cannot be read" in broken.text


def test_more_like_this_and_the_image_page(client):
    first = results_of(client.get("/search", params={"q": "photo", "k": "1"}).text)[0]
    similar = client.get("/search/similar", params={"image_id": first, "k": "3"})
    assert similar.status_code == 200
    assert first not in results_of(similar.text) and len(results_of(similar.text)) == 3
    page = client.get(f"/images/{first}")
    assert page.status_code == 200 and page.text.count("<h1") == 1
    assert 'aria-describedby="long-description"' in page.text and "What the image classifier saw" in page.text
    assert "Similar pictures" in page.text


@pytest.mark.parametrize("image_id", ["0" * 32, "not-an-id", "..%2F..%2Fetc%2Fpasswd", "<b>x</b>"])
def test_unknown_images_get_a_helpful_404_page(client, image_id):
    page = client.get(f"/images/{image_id}", headers={"Accept": "text/html"})
    if SERVER and ".." in image_id:  # through nginx: it refuses a path above its root (400) before any replica
        assert page.status_code == 400
    else:
        assert page.status_code == 404 and "not found" in page.text and "<b>x</b>" not in page.text
        assert page.headers["content-type"].startswith("text/html")
    similar = client.get("/search/similar", params={"image_id": image_id})
    assert similar.status_code == 404 and "Please check your search" in similar.text


def test_bidirectional_controls_never_reach_the_page(client):
    html = client.get("/search", params={"q": "\u202ea noisy\u2066 photo\u2069", "k": "5"}).text
    assert "results for “a noisy photo”" in html
    assert not any(c in html for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def test_a_result_count_outside_the_list_shows_as_chosen(client):
    html = client.get("/search", params={"q": "a noisy photo", "k": "8"}).text
    assert len(results_of(html)) == 8
    chosen = re.findall(r'<option value="(\d+)" selected>', html)
    assert chosen == ["8"]  # not the list's first entry (5), which a browser shows when none is selected


def test_the_api_docs_page_works_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/vendor/swagger-ui/{asset}").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc only came from a CDN


def test_htmx_is_served_from_the_npm_package(client):
    response = client.get("/vendor/htmx/htmx.min.js")
    assert response.status_code == 200 and "htmx" in response.text[:2000]
    assert response.headers["cache-control"] == "public, max-age=86400"


def test_pages_are_cross_origin_isolated_and_wasm_is_typed(client):
    page = client.get("/")
    assert page.headers["cross-origin-opener-policy"] == "same-origin"
    assert page.headers["cross-origin-embedder-policy"] == "require-corp"
    wasm = client.get("/vendor/ort/ort-wasm-simd-threaded.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    module = client.get("/vendor/ort/ort.wasm.min.mjs")
    assert module.status_code == 200 and module.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/css/glimpse.css").headers["cache-control"] == "no-cache"


def test_unknown_addresses_get_a_page_for_browsers_and_json_for_the_api(client):
    page = client.get("/no/such/page", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and "Page not found" in page.text
    api = client.get("/api/no/such/thing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.json()["error"] == "not_found"


@in_process
def test_no_good_match_is_said_and_announced(client):
    """The tiny test model has no calibrated threshold, so render the fragment with an answer that has one."""
    from server.api.routes.pages import SearchForm

    templates = client.app.state.templates
    result = {
        "rank": 1,
        "image_id": "a" * 32,
        "score": 0.12,
        "weak": True,
        "thumbnail_url": "/t",
        "description": {"alt": "Probably a toaster", "long": "It is probably a toaster."},
    }
    answer = {"results": [result], "no_good_match": True, "weak_threshold": 0.27, "model": {"version": "1"}}
    html = templates.env.get_template("_results.html").render(
        form=SearchForm(q="quarterly tax report", k=5, model="production"),
        answer=answer,
        mode="text",
        session="s",
        return_to="/",
    )
    assert 'data-announce="No good match for quarterly tax report. Showing the closest 1."' in html
    assert "No picture matches “quarterly tax report” well" in html
    assert "Weak match (0.12): probably not what you asked for" in html


@in_process
def test_fragments_skip_the_model_list_and_pages_share_one_registry_read(client, monkeypatch):
    pool = client.app.state.services.pool()
    reads = []
    real = pool.registry.versions
    monkeypatch.setattr(pool.registry, "versions", lambda: reads.append(1) or real())
    monkeypatch.setattr(pool, "alias_refresh_s", 60.0)
    monkeypatch.setattr(pool, "_versions", None)
    for _ in range(3):
        assert client.get("/search", params={"q": "photo"}, headers={"HX-Request": "true"}).status_code == 200
    assert reads == []  # the fragment has no model selector
    for _ in range(3):
        assert 'value="1"' in client.get("/search", params={"q": "photo"}).text  # version 1 is in the selector
    assert len(reads) == 1
    monkeypatch.setattr(pool, "alias_refresh_s", 0.0)
    client.get("/")
    assert len(reads) == 2  # read again once the refresh interval has passed


@in_process
def test_the_collection_summary_is_read_again_only_when_the_table_changes(client, monkeypatch):
    import os

    import server.api.deps as deps

    reads = []
    real = deps.summarise
    monkeypatch.setattr(deps, "summarise", lambda table: reads.append(table) or real(table))
    client.app.state.collection_summary = None
    pages = [client.get("/").text for _ in range(3)]
    assert len(reads) == 1 and all("About this collection" in page for page in pages)
    settings = client.app.state.settings
    table = settings.path(settings.images_table)
    stat = table.stat()
    os.utime(table, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    client.get("/")
    assert len(reads) == 2


def test_a_respelled_search_says_what_was_searched_and_offers_the_words_as_typed(client):
    html = client.get("/search", params={"q": "a noisy phtoo", "k": "3"}).text
    assert "3 results for “a noisy photo”" in html
    assert "Searched for “a noisy photo” instead of “a noisy phtoo”." in html
    assert 'data-announce="3 results for a noisy photo. Searched for a noisy photo instead of a noisy phtoo."' in html
    assert 'data-query="a noisy photo"' in html and 'data-typed="a noisy phtoo"' in html
    link = re.search(r'<a href="([^"]+)"[^>]*>Search for “a noisy phtoo” as typed</a>', html).group(1)
    assert link.replace("&amp;", "&") == "/search?q=a+noisy+phtoo&k=3&model=production&spell=false"
    assert html.count('name="query" value="a noisy photo"') == 3  # votes are for the query searched
    as_typed = client.get(link.replace("&amp;", "&")).text
    assert "3 results for “a noisy phtoo”" in as_typed and "Searched for" not in as_typed
    assert "data-typed" not in client.get("/search", params={"q": "a noisy photo"}).text
