"""Publishing with the online store in Redis (a real redis-server started by the test), as the scaled-out
deployment does, and the server's reader reading it back."""

import pytest

from feature_repo.store import redis_connection_string
from pipeline.pipelines.publish.nodes import publish_features, store_problems
from server.services.features import FeatureReader

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://cache:6380/2", "cache:6380,db=2"),
        ("redis://127.0.0.1", "127.0.0.1:6379,db=0"),
        ("rediss://:p%40ss@cache/1", "cache:6379,db=1,password=p@ss,ssl=true"),
    ],
)
def test_redis_urls_become_feasts_connection_strings(url, expected):
    assert redis_connection_string(url) == expected


@pytest.mark.parametrize("url", ["http://cache:6379", "redis://", "redis://cache/zero"])
def test_other_urls_are_refused(url):
    with pytest.raises(ValueError, match="redis"):
        redis_connection_string(url)


def test_publish_to_redis_is_read_by_the_server_and_rebuilt_when_lost(tables, tmp_path, redis_url):
    import redis

    online = redis_url.rsplit("/", 1)[0] + "/3"  # a database of its own
    redis.Redis.from_url(online).flushdb()
    images, embeddings, descriptions, sightings, manifest = tables
    root = tmp_path / "store"
    params = {"store_root": str(root), "demo_manifest": str(manifest), "online_url": online}
    first = publish_features(images, embeddings, descriptions, sightings, None, params)
    assert not (root / "online.db").exists() and redis.Redis.from_url(online).dbsize() > 0

    reader = FeatureReader(root, online_url=online)  # what a server replica opens
    cat, absent = reader.records(["a1", "zz"])
    assert absent is None
    assert cat.metadata["path"] == "pets/cat.jpg" and cat.description["alt"] == "Probably a tabby cat, in grey"
    assert reader.thumbnail("b2") == b"jpeg-b"
    assert reader.usable()

    assert publish_features(images, embeddings, descriptions, sightings, first, params) is first  # whole: no-op
    redis.Redis.from_url(online).flushdb()  # a Redis restarted without persistence
    assert store_problems(root, online, "a1") == ["the Redis online store does not hold the published images"]
    again = publish_features(images, embeddings, descriptions, sightings, first, params)
    assert again is not first and store_problems(root, online, "a1") == []
    assert FeatureReader(root, online_url=online).records(["a1"])[0].metadata["path"] == "pets/cat.jpg"
