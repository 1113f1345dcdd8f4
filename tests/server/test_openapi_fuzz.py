"""Schemathesis against the app's own OpenAPI schema: every answer — status code, content type, headers, body —
must be one the schema declares, and no request may get a 5xx (the project is healthy: even a declared 503
would be a bug here).

The app runs in process over the session's scratch project (real pipeline, tiny CLIP model), with its own
feedback database so the fuzzer's votes do not reach the other tests' counts. Generation is derandomized
and bounded (``MAX_EXAMPLES`` per operation, positive and negative data), so CI sees the same requests on
every run.

Random data rarely names an image that exists, so ``test_answers_about_real_images_honour_the_schema`` sends
the requests that reach the success paths too (real ids, a real upload, votes up to the rate limit's 429),
and validates them with the same checks.

The schema is taken from an app built at import time (``@schema.parametrize`` needs it then, and the session
project only exists once fixtures run; ``schemathesis.pytest.from_fixture`` fails under pytest 9.2, which
has no ``Function._nodeid`` for it to set); ``test_the_fuzzed_schema_is_the_served_one`` checks it is the
``/openapi.json`` the real app serves. Not in the schema, so not fuzzed: the HTML pages, ``/static``,
``/vendor`` and ``/metrics`` (``include_in_schema=False``; tests/server/test_pages.py and others cover them).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.python import asgi

from server.core.config import Settings
from server.main import create_app
from tests.fixtures.images import encode, photo
from tests.server.conftest import settings_for

MAX_EXAMPLES = 40
VOTES_PER_MINUTE = 5  # low, so the targeted test reaches 429 in a few requests
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]

SPEC = create_app(Settings(project_root="/nonexistent")).openapi()
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def fuzz_app(project, tmp_path_factory):
    folder, _ = project
    feedback_db = tmp_path_factory.mktemp("fuzz-feedback") / "feedback.db"
    app = create_app(settings_for(folder, feedback_db=feedback_db, feedback_votes_per_minute=VOTES_PER_MINUTE))
    yield app
    asgi.shutdown_lifespans()  # schemathesis started the app's lifespan on its first request: stop it


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_honours_its_schema(case, fuzz_app):
    case.call_and_validate(app=fuzz_app, checks=CHECKS)


def test_the_fuzzed_schema_is_the_served_one(fuzz_app):
    with asgi.get_client(fuzz_app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == SPEC


def _call(fuzz_app, session, path, method, **case):
    operation = schema[path][method]
    response = operation.Case(**case).call_and_validate(app=fuzz_app, session=session, checks=CHECKS)
    return response


def test_answers_about_real_images_honour_the_schema(fuzz_app):
    with asgi.get_client(fuzz_app) as session:  # one cookie session throughout, as a browser would keep
        answer = _call(fuzz_app, session, "/api/search", "GET", query={"q": "a photo", "k": 3}).json()
        assert answer["results"], answer
        image_id, version = answer["results"][0]["image_id"], answer["model"]["version"]
        original = _call(fuzz_app, session, "/api/images/{image_id}", "GET", path_parameters={"image_id": image_id})
        assert original.headers["content-type"][0].startswith("image/")
        for path in ("/api/images/{image_id}/thumbnail", "/api/images/{image_id}/description"):
            assert _call(fuzz_app, session, path, "GET", path_parameters={"image_id": image_id}).status_code == 200

        by_id = _call(
            fuzz_app,
            session,
            "/api/search/image",
            "POST",
            body={"image_id": image_id, "k": 2},
            media_type="multipart/form-data",
        )
        assert by_id.status_code == 200 and by_id.json()["query_image_id"] == image_id
        upload = {"file": encode(photo(40, 30), "PNG"), "k": 2}
        by_upload = _call(fuzz_app, session, "/api/search/image", "POST", body=upload, media_type="multipart/form-data")
        assert by_upload.status_code == 200 and by_upload.json()["results"]

        def post_vote(body: dict, media_type: str = "application/json") -> int:
            return _call(fuzz_app, session, "/api/feedback", "POST", body=body, media_type=media_type).status_code

        vote = {"image_id": image_id, "vote": 1, "query": "a photo", "model_version": version, "rank": 1}
        form = {**vote, "vote": "down", "return_to": "/search?q=a+photo"}
        statuses = [post_vote(vote), post_vote(vote), post_vote(form, "application/x-www-form-urlencoded")]
        statuses += [post_vote(vote) for _ in range(VOTES_PER_MINUTE + 1 - len(statuses))]
        assert statuses[:3] == [201, 200, 303]  # recorded, a repeat (nothing stored), the form's redirect
        assert statuses[-1] == 429, statuses  # one vote over this session's limit

        for path in ("/api/feedback/summary", "/api/feedback/stats", "/api/models", "/readyz", "/healthz"):
            assert _call(fuzz_app, session, path, "GET").status_code == 200
