"""Votes: the store on its own, and POST /api/feedback against the real app over the small real collection."""

import hashlib
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.api.routes.feedback import safe_return_to
from server.main import create_app
from server.services.feedback import SCHEMA_VERSION, FeedbackStore, FeedbackUnavailableError
from tests.server.conftest import settings_for

ABSENT_ID = "0" * 32
QUERY_IMAGE_ID = "ab" * 16


# --- the store ------------------------------------------------------------------------------------------------


def a_vote(**changes) -> dict:
    return {"image_id": "cd" * 16, "vote": 1, "model_version": "1", "session": "s1", "query_text": "cat"} | changes


def test_store_creates_its_folder_and_uses_a_durable_journal(tmp_path):
    store = FeedbackStore(tmp_path / "a" / "b" / "feedback.db")
    assert store.count() == 0 and store.summary() == {"total": 0, "up": 0, "down": 0}
    first = store.record(**a_vote()).id
    second = store.record(**a_vote(vote=-1, query_text=None, query_image_id=QUERY_IMAGE_ID, rank=3)).id
    assert second > first
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    fresh = FeedbackStore(store.path)  # reopening keeps everything
    assert fresh.count() == 2 and fresh.summary() == {"total": 2, "up": 1, "down": 1}
    newest, oldest = fresh.recent(10)
    assert newest["id"] == second and newest["query_image_id"] == QUERY_IMAGE_ID and newest["query_text"] is None
    assert newest["rank"] == 3 and newest["vote"] == -1
    assert oldest["query_text"] == "cat" and oldest["created_at"].endswith("Z") and "T" in oldest["created_at"]
    assert [r["id"] for r in fresh.recent(1)] == [second]


def test_store_is_append_only(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    store.record(**a_vote())
    assert not any(hasattr(store, name) for name in ("update", "delete", "remove", "clear"))
    with sqlite3.connect(store.path) as conn:
        for statement in ("UPDATE feedback SET vote = -1", "DELETE FROM feedback"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
        with pytest.raises(sqlite3.IntegrityError):  # the CHECKs hold even for raw SQL
            conn.execute(
                "INSERT INTO feedback (created_at, session, query_text, image_id, vote, model_version)"
                " VALUES ('t', 's', 'q', 'i', 2, 'm')"
            )
    assert store.count() == 1


@pytest.mark.parametrize(
    "changes",
    [{"vote": 0}, {"vote": True}, {"query_text": None}, {"query_image_id": QUERY_IMAGE_ID}],
)
def test_store_refuses_what_the_contract_forbids(tmp_path, changes):
    store = FeedbackStore(tmp_path / "feedback.db")
    with pytest.raises(ValueError):
        store.record(**a_vote(**changes))
    assert store.count() == 0


def test_store_from_eight_threads_keeps_every_vote(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    start = threading.Barrier(8)
    ids: list[int] = []

    def work(n: int) -> None:
        start.wait()
        for i in range(25):
            ids.append(store.record(**a_vote(session=f"t{n}", query_text=f"cat {i}", rank=i + 1)).id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 200 and FeedbackStore(store.path).count() == 200


def test_repeating_ones_latest_vote_stores_nothing_but_changing_it_does(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    first = store.record(**a_vote())
    assert first.duplicate is False
    again = store.record(**a_vote(rank=2))  # a double click (rank is not part of what the vote is about)
    assert again == (first.id, True) and store.count() == 1
    down = store.record(**a_vote(vote=-1))  # a change of mind is kept: the log shows both
    up_again = store.record(**a_vote())
    assert not down.duplicate and not up_again.duplicate and store.count() == 3
    # Another session, search, image or model version is a different vote.
    for changes in (
        {"session": "s2"},
        {"query_text": "dog"},
        {"image_id": "ef" * 16},
        {"model_version": "2"},
        {"query_text": None, "query_image_id": QUERY_IMAGE_ID},
    ):
        assert store.record(**a_vote(**changes)).duplicate is False
    assert store.count() == 8


def test_stats_count_per_model_version_without_queries(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    assert store.stats() == []
    store.record(**a_vote())
    store.record(**a_vote(session="s2", vote=-1))
    store.record(**a_vote(session="s3", model_version="10"))
    store.record(**a_vote(session="s3", model_version="2", query_text="dog"))
    stats = store.stats()
    assert [s["model_version"] for s in stats] == ["1", "2", "10"]  # numeric order
    one = stats[0]
    assert (one["votes"], one["up"], one["down"], one["sessions"], one["up_share"]) == (2, 1, 1, 2, 0.5)
    assert not any("cat" in str(v) or "s2" in str(v) for item in stats for v in item.values())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "feedback.db"
    path.write_bytes(b"these are someone's notes, not SQLite\n" * 200)
    before = digest(path)
    with pytest.raises(FeedbackUnavailableError, match="feedback database"):
        FeedbackStore(path)
    assert digest(path) == before


@pytest.mark.parametrize("table", ["feedback", "experiments"])
def test_a_database_of_something_else_is_refused_and_left_alone(tmp_path, table):
    path = tmp_path / "feedback.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, note TEXT)")
        conn.execute(f"INSERT INTO {table} (note) VALUES ('keep me')")
    conn.close()
    before = digest(path)
    with pytest.raises(FeedbackUnavailableError, match="not touching it"):
        FeedbackStore(path)
    assert digest(path) == before


def test_a_database_locked_too_long_is_unavailable_not_a_hang(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db", timeout_s=0.1)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(FeedbackUnavailableError, match="locked"):
            store.record(**a_vote())
    finally:
        blocker.close()
    assert store.count() == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/search?q=cat#result-2", "/search?q=cat#result-2"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("search", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_return_to_stays_on_this_site(value, expected):
    assert safe_return_to(value) == expected


# --- the API --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_ids(client):
    response = client.get("/api/search", params={"q": "photo", "k": 3})
    assert response.status_code == 200, response.text
    return [r["image_id"] for r in response.json()["results"]]


@pytest.fixture(scope="module")
def db(client):
    settings = client.app.state.settings
    return settings.path(settings.feedback_db)


@pytest.fixture
def payload(image_ids):
    return {"image_id": image_ids[0], "vote": 1, "query": "photo", "model_version": "1", "rank": 1}


@pytest.fixture(autouse=True)
def fresh_session(client):
    """Each test starts as a new visitor: the server mints a new anonymous session cookie."""
    client.cookies.clear()


def count(db: Path) -> int:
    return FeedbackStore(db).count()  # a fresh store on the same file: what is on disk, not in a cache


def test_a_vote_is_durable_when_acknowledged(client, db, payload):
    before = count(db)
    response = client.post("/api/feedback", json=payload)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["recorded"] is True and isinstance(body["id"], int)
    assert count(db) == before + 1
    row = FeedbackStore(db).recent(1)[0]
    assert row["id"] == body["id"]
    assert {k: row[k] for k in ("image_id", "vote", "query_text", "query_image_id", "model_version")} == {
        "image_id": payload["image_id"],
        "vote": 1,
        "query_text": "photo",
        "query_image_id": None,
        "model_version": "1",
    }
    assert row["session"] == client.cookies.get("glimpse_session")


def test_the_session_is_the_servers_cookie_never_the_body(client, db, payload):
    response = client.post("/api/feedback", json=payload | {"session": "chosen-by-the-client"})
    assert response.status_code == 201, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("glimpse_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    session = client.cookies.get("glimpse_session")
    assert len(session) >= 22 and FeedbackStore(db).recent(1)[0]["session"] == session
    # The same visitor keeps it: no new cookie on the next request.
    again = client.post("/api/feedback", json=payload | {"vote": -1})
    assert again.status_code == 201 and "set-cookie" not in again.headers
    assert FeedbackStore(db).recent(1)[0]["session"] == session
    # A forged or malformed cookie is replaced, not stored.
    client.cookies.clear()
    forged = client.post("/api/feedback", json=payload, headers={"cookie": "glimpse_session=x"})
    assert forged.status_code == 201 and FeedbackStore(db).recent(1)[0]["session"] not in ("x", session)
    # Static files never carry it (shared caches).
    client.cookies.clear()
    assert "set-cookie" not in client.get("/static/css/glimpse.css").headers


def test_a_repeated_vote_is_acknowledged_but_not_stored_twice(client, db, payload):
    first = client.post("/api/feedback", json=payload)
    before = count(db)
    again = client.post("/api/feedback", json=payload)
    assert again.status_code == 200, again.text
    assert again.json() == {"id": first.json()["id"], "recorded": False, "duplicate": True}
    assert count(db) == before


def test_an_unknown_model_version_is_404_and_an_alias_is_refused(client, db, payload):
    before = count(db)
    response = client.post("/api/feedback", json=payload | {"model_version": "999"})
    assert response.status_code == 404 and response.json()["error"] == "unknown_model"
    alias = client.post("/api/feedback", json=payload | {"model_version": "production"})
    assert alias.status_code == 422 and "not an alias" in alias.json()["message"]
    assert count(db) == before


def test_votes_per_minute_are_limited_per_session_and_per_address(project, tmp_path, payload):
    folder, _ = project
    settings = settings_for(
        folder,
        feedback_db=tmp_path / "feedback.db",
        feedback_votes_per_minute=3,
        feedback_votes_per_minute_per_client=5,
    )
    with TestClient(create_app(settings)) as limited:
        answers = [limited.post("/api/feedback", json=payload | {"query": f"photo {i}"}) for i in range(4)]
        assert [a.status_code for a in answers] == [201, 201, 201, 429]
        assert answers[3].json()["error"] == "too_many_votes" and "this session" in answers[3].json()["message"]
        assert 1 <= int(answers[3].headers["retry-after"]) <= 60
        # A new session from the same address gets 2 more before the address limit (5) answers.
        limited.cookies.clear()
        more = [limited.post("/api/feedback", json=payload | {"query": f"other {i}"}) for i in range(3)]
        assert [a.status_code for a in more] == [201, 201, 429]
        assert "this address" in more[2].json()["message"]
    assert FeedbackStore(tmp_path / "feedback.db").count() == 5


def test_stats_per_model_version(client, payload):
    client.post("/api/feedback", json=payload | {"query": "stats check"})
    response = client.get("/api/feedback/stats")
    assert response.status_code == 200
    body = response.json()
    one = next(v for v in body["versions"] if v["model_version"] == "1")
    assert one["votes"] >= 1 and one["up"] + one["down"] == one["votes"] and 0 <= one["up_share"] <= 1
    assert body["total"]["total"] == sum(v["votes"] for v in body["versions"])
    assert "stats check" not in response.text  # no raw queries


@pytest.mark.parametrize(("vote", "stored"), [(1, 1), (-1, -1), ("up", 1), ("down", -1), (" Down ", -1), ("-1", -1)])
def test_up_and_down(client, db, payload, vote, stored):
    before = client.get("/api/feedback/summary").json()
    response = client.post("/api/feedback", json=payload | {"vote": vote})
    assert response.status_code == 201, response.text
    assert FeedbackStore(db).recent(1)[0]["vote"] == stored
    after = client.get("/api/feedback/summary").json()
    key = "up" if stored == 1 else "down"
    assert after["total"] == before["total"] + 1 and after[key] == before[key] + 1


def test_summary_counts_what_is_stored(client, db):
    response = client.get("/api/feedback/summary")
    assert response.status_code == 200
    body = response.json()
    assert body == FeedbackStore(db).summary() and body["total"] == body["up"] + body["down"]


def test_a_vote_on_an_image_query(client, db, payload, image_ids):
    response = client.post(
        "/api/feedback", json=payload | {"query": None, "query_image_id": image_ids[1].upper(), "rank": None}
    )
    assert response.status_code == 201, response.text
    row = FeedbackStore(db).recent(1)[0]
    assert row["query_text"] is None and row["query_image_id"] == image_ids[1] and row["rank"] is None


@pytest.mark.parametrize(
    ("changes", "field", "needle"),
    [
        ({"image_id": "xyz"}, "image_id", "32 hexadecimal"),
        ({"image_id": "g" * 32}, "image_id", "32 hexadecimal"),
        ({"image_id": 12345}, "image_id", "string"),
        ({"image_id": None}, "image_id", "string"),
        ({"vote": 0}, "vote", "1 or -1"),
        ({"vote": 2}, "vote", "1 or -1"),
        ({"vote": "maybe"}, "vote", "1 or -1"),
        ({"vote": True}, "vote", "1 or -1"),
        ({"vote": 1.5}, "vote", "1 or -1"),
        ({"vote": [1]}, "vote", "1 or -1"),
        ({"query_image_id": "ab" * 16}, "query", "exactly one"),
        ({"query": None}, "query", "exactly one"),
        ({"query": "x" * 10_000}, "query", "limit is 500"),
        ({"query": "\x00\x01\x1b\x7f"}, "query", "empty"),
        ({"query": "   "}, "query", "empty"),
        ({"query": 42}, "query", "string"),
        ({"query": None, "query_image_id": "../../etc/passwd"}, "query_image_id", "32 hexadecimal"),
        ({"model_version": ""}, "model_version", "1–64"),
        ({"model_version": "1; DROP TABLE feedback"}, "model_version", "1–64"),
        ({"model_version": "v" * 65}, "model_version", "1–64"),
        ({"model_version": 1}, "model_version", "string"),
        ({"rank": 0}, "rank", "greater than or equal to 1"),
        ({"rank": 101}, "rank", "less than or equal to 100"),
        ({"rank": "first"}, "rank", "integer"),
        ({"rank": True}, "rank", "whole number"),
    ],
)
def test_validation_errors_name_the_field(client, db, payload, changes, field, needle):
    before = count(db)
    response = client.post("/api/feedback", json=payload | changes)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request" and body["message"].startswith(f"{field}: ")
    assert needle in body["message"] and body["problems"][0]["field"] == field
    assert count(db) == before


def test_a_missing_field_is_named(client, payload):
    del payload["model_version"]
    response = client.post("/api/feedback", json=payload)
    assert response.status_code == 422 and response.json()["message"] == "model_version: Field required"


def test_the_query_is_cleaned_like_a_search(client, db, payload):
    response = client.post("/api/feedback", json=payload | {"query": "  red\tcar\x00\n\x1b[31m "})
    assert response.status_code == 201, response.text
    assert FeedbackStore(db).recent(1)[0]["query_text"] == "red car [31m"


@pytest.mark.parametrize(
    "text",
    [
        "'); DROP TABLE feedback; --",
        "Robert'); DELETE FROM feedback WHERE ('1'='1",
        '" OR 1=1 --',
        "<script>alert(1)</script>",
        "café 猫 🐈 reversed",
    ],
)
def test_hostile_text_is_stored_verbatim_and_harmless(client, db, payload, text):
    before = count(db)
    response = client.post("/api/feedback", json=payload | {"query": text})
    assert response.status_code == 201, response.text
    assert count(db) == before + 1  # the table is still there, nothing deleted
    assert FeedbackStore(db).recent(1)[0]["query_text"] == text


def test_a_vote_stores_the_query_as_searched_without_bidi_controls(client, db, payload):
    """The search removes bidirectional formatting characters, so the vote's query (the same cleaning) does."""
    response = client.post("/api/feedback", json=payload | {"query": "café 猫 🐈 \u202ereversed\u2069"})
    assert response.status_code == 201, response.text
    assert FeedbackStore(db).recent(1)[0]["query_text"] == "café 猫 🐈 reversed"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "needle"),
    [
        (b"{not json", "application/json", 422, "not valid JSON"),
        (b"\xff\xfe\x00garbage", "application/json", 422, "not valid JSON"),
        (b"[" * 5000, "application/json", 422, "not valid JSON"),
        (b'["image_id", 1]', "application/json", 422, "JSON object"),
        (b"null", "application/json", 422, "JSON object"),
        (b"", "application/json", 422, "not valid JSON"),
        (b'{"vote": 1}', "text/plain", 415, "application/json"),
        (b'{"vote": 1}', None, 415, "application/json"),
        (b"--x\r\n", "multipart/form-data; boundary=x", 415, "form"),
        (b"image_id=%ff%fe", "application/x-www-form-urlencoded", 422, "form could not be read"),
        (b"&".join(b"f%d=1" % i for i in range(100)), "application/x-www-form-urlencoded", 422, "form could not"),
        (b"vote=up&vote=down", "application/x-www-form-urlencoded", 422, "more than once"),
    ],
)
def test_bodies_that_cannot_be_read(client, db, content, content_type, status, needle):
    before = count(db)
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/api/feedback", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert needle in response.json()["message"]
    assert count(db) == before


def test_an_oversized_body_is_refused(client, db, payload):
    before = count(db)
    response = client.post("/api/feedback", json=payload | {"query": "x" * 17_000})
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"

    def chunks():  # no Content-Length: refused while streaming
        yield b'{"query": "'
        for _ in range(40):
            yield b"y" * 1024
        yield b'"}'

    response = client.post("/api/feedback", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"
    form = client.post("/api/feedback", data={"query": "z" * 17_000}, follow_redirects=False)
    assert form.status_code == 413
    assert count(db) == before


def test_a_body_just_under_the_limit_is_accepted(client, payload):
    padding = 16 * 1024 - len(str(payload)) - 200
    response = client.post("/api/feedback", json=payload | {"note": "n" * padding})  # unknown fields are ignored
    assert response.status_code == 201, response.text


def test_an_unknown_image_is_404(client, db, payload):
    before = count(db)
    response = client.post("/api/feedback", json=payload | {"image_id": ABSENT_ID})
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_image" and ABSENT_ID in response.json()["message"]
    assert count(db) == before


def form_of(payload: dict, **changes) -> dict:
    return {k: "" if v is None else str(v) for k, v in (payload | changes).items()}


def test_a_form_post_records_and_goes_back(client, db, payload):
    before = count(db)
    form = form_of(payload, vote="down", query_image_id=None, return_to="/search?q=photo#result-1")
    response = client.post("/api/feedback", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/search?q=photo#result-1"
    assert count(db) == before + 1
    row = FeedbackStore(db).recent(1)[0]
    assert row["vote"] == -1 and row["rank"] == 1 and row["query_text"] == "photo"


@pytest.mark.parametrize("return_to", ["//evil.example", "https://evil.example", "/\\evil.example", "", None])
def test_a_form_post_never_redirects_off_site(client, payload, return_to):
    form = form_of(payload, vote="up")
    if return_to is not None:
        form["return_to"] = return_to
    response = client.post("/api/feedback", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_an_invalid_form_post_answers_json(client, db, payload):
    before = count(db)
    response = client.post("/api/feedback", data=form_of(payload, vote="maybe", return_to="/"), follow_redirects=False)
    assert response.status_code == 422 and response.json()["message"].startswith("vote: ")
    assert count(db) == before


def test_concurrent_votes_from_eight_threads_are_all_recorded(client, db, payload):
    before = count(db)
    start = threading.Barrier(8)
    answers: list = []

    def post(n: int) -> None:
        start.wait()
        for i in range(4):
            response = client.post("/api/feedback", json=payload | {"query": f"photo {n} {i}", "rank": i + 1})
            answers.append((response.status_code, response.json().get("id")))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in answers] == [201] * 32
    assert len({row_id for _, row_id in answers}) == 32
    assert count(db) == before + 32


def unavailable(response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"] == "feedback_unavailable" and "cannot be recorded" in body["message"]
    assert "/" not in body["message"]  # no server paths in what the client sees


def test_a_corrupt_database_answers_503_and_is_left_alone(project, tmp_path, payload):
    folder, _ = project
    bad = tmp_path / "feedback.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xde\xad" * 4096)  # right magic, garbage after it
    before = digest(bad)
    client = TestClient(create_app(settings_for(folder, feedback_db=bad)))
    unavailable(client.post("/api/feedback", json=payload))
    unavailable(client.get("/api/feedback/summary"))
    unavailable(client.post("/api/feedback", data=form_of(payload), follow_redirects=False))
    assert digest(bad) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feedback.db"]


def test_a_folder_where_the_database_should_be_answers_503(project, tmp_path, payload):
    folder, _ = project
    client = TestClient(create_app(settings_for(folder, feedback_db=tmp_path)))
    unavailable(client.post("/api/feedback", json=payload))


@pytest.fixture
def read_only_db(tmp_path):
    """A valid database with one vote, made unwritable (chmod; root ignores modes, so also the immutable flag)."""
    path = tmp_path / "feedback.db"
    FeedbackStore(path).record(**a_vote())
    path.chmod(0o444)
    immutable = shutil.which("chattr") is not None and subprocess.run(["chattr", "+i", path]).returncode == 0
    try:
        with open(path, "ab"):
            pytest.skip("cannot make a file read-only here (root without chattr)")
    except PermissionError:
        pass
    try:
        yield path
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", path], check=True)
        path.chmod(0o644)


def test_a_read_only_database_answers_503_and_is_unchanged(project, read_only_db, payload):
    folder, _ = project
    before = digest(read_only_db)
    client = TestClient(create_app(settings_for(folder, feedback_db=read_only_db)))
    unavailable(client.post("/api/feedback", json=payload))
    assert digest(read_only_db) == before
    summary = client.get("/api/feedback/summary")  # reading still works, or is a clean 503
    assert summary.status_code in (200, 503)
    if summary.status_code == 200:
        assert summary.json() == {"total": 1, "up": 1, "down": 0}
