"""What one worker computed, for the others (``service.shared_cache``): a pool and the explanations
one worker made answer another worker's request, bit for bit; a damaged, stale or foreign entry
is a miss, never an answer; a busy store costs a computation, not a wait. SQLite and a real
``redis-server`` (``conftest.redis_url``) run the same tests."""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recsys_utils.explain.explanation import Explanation, TokenUsage
from recsys_utils.fileio import tree_digest
from recsys_utils.service import ServiceSettings, create_app
from recsys_utils.service.learning import LearnerConfig
from recsys_utils.service.shared_cache import (
    RedisSharedCache,
    SQLiteSharedCache,
    cache_fingerprint,
    decode_explanation,
    decode_pool,
    encode_explanation,
    encode_pool,
)

FP = "a" * 64
OTHER_FP = "b" * 64
_namespaces = itertools.count()


def make_pool(seed: int, n: int = 7, width: int = 5) -> tuple:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 1000, n).astype(np.int64), rng.random(n, dtype=np.float32), rng.standard_normal(n),
            rng.standard_normal((n, width)))


def assert_same_pool(got, expected) -> None:
    assert got is not None
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_a_pool_comes_back_bit_for_bit_and_read_only():
    for pool in (make_pool(0), make_pool(1, n=0)):
        decoded = decode_pool(encode_pool(pool, FP, 4), FP, 4)
        assert_same_pool(decoded, pool)
        assert not any(array.flags.writeable for array in decoded)


def test_a_damaged_truncated_stale_or_foreign_entry_is_a_miss(caplog):
    body = encode_pool(make_pool(0), FP, 4)
    for at in (0, 10, len(body) // 2, len(body) - 1):  # header, fingerprint, arrays, checksum
        damaged = bytearray(body)
        damaged[at] ^= 0x01
        with caplog.at_level(logging.WARNING, logger="recsys_utils.service.shared_cache"):
            assert decode_pool(bytes(damaged), FP, 4) is None
        assert "checksum" in caplog.text
        caplog.clear()
    assert decode_pool(body[: len(body) // 2], FP, 4) is None
    assert decode_pool(body[:10], FP, 4) is None
    assert decode_pool(body, FP, 5) is None, "another state version answered"
    assert decode_pool(body, OTHER_FP, 4) is None, "another fingerprint answered"


def make_explanation(i: int) -> Explanation:
    return Explanation(text=f"Because you liked Movie {i} — “quoted”.", cited_facts=(f"title:{i}", "genre:Drama"),
                       explainer="offline", faithful=i % 2 == 0, latency_s=0.001 * i,
                       usage=TokenUsage(1, 2, 3) if i == 3 else None, draft_violations=("year",) if i == 5 else ())


def test_an_explanation_comes_back_equal_and_a_damaged_or_foreign_one_is_a_miss(caplog):
    for i in range(6):
        assert decode_explanation(encode_explanation(make_explanation(i), FP), FP) == make_explanation(i)
    body = bytearray(encode_explanation(make_explanation(1), FP))
    assert decode_explanation(bytes(body), OTHER_FP) is None
    body[20] ^= 0x01
    with caplog.at_level(logging.WARNING, logger="recsys_utils.service.shared_cache"):
        assert decode_explanation(bytes(body), FP) is None
    assert "checksum" in caplog.text


@pytest.fixture(params=["sqlite", "redis"])
def tier(request, tmp_path):
    """Makes tiers over one shared place, as each worker process does."""
    made = []
    if request.param == "sqlite":
        def make(fingerprint):
            made.append(SQLiteSharedCache(tmp_path / "feedback.cache.sqlite3", fingerprint))
            return made[-1]
    else:
        url, namespace = request.getfixturevalue("redis_url"), f"pools{next(_namespaces)}"

        def make(fingerprint):
            made.append(RedisSharedCache(url, fingerprint, namespace=namespace))
            return made[-1]
    yield make
    for pools in made:
        pools.close()


def test_workers_share_each_users_latest_pool_and_an_older_version_never_replaces_it(tier):
    one, two = tier(FP), tier(FP)
    assert two.get_pool(1, 2) is None
    one.put_pool(1, 2, make_pool(2))
    assert_same_pool(two.get_pool(1, 2), make_pool(2))
    assert two.get_pool(1, 1) is None and two.get_pool(2, 2) is None
    two.put_pool(1, 1, make_pool(1))  # a worker behind on the log computed the older state
    assert_same_pool(one.get_pool(1, 2), make_pool(2))
    assert one.get_pool(1, 1) is None
    two.put_pool(1, 3, make_pool(3))
    assert_same_pool(one.get_pool(1, 3), make_pool(3))
    assert one.get_pool(1, 2) is None, "a user keeps one entry, their latest"

    other = tier(OTHER_FP)  # other artefacts, code or settings: never reads the entries above
    assert other.get_pool(1, 3) is None
    other.put_pool(1, 0, make_pool(9))
    assert_same_pool(other.get_pool(1, 0), make_pool(9))
    assert one.get_pool(1, 0) is None and one.get_pool(1, 3) is None


def test_workers_share_the_explanations_made_for_a_user(tier):
    one, two = tier(FP), tier(FP)
    assert two.get_explanations(7, [1, 2, 3]) == {}
    one.put_explanations(7, {1: make_explanation(1), 3: make_explanation(3)})
    assert two.get_explanations(7, [1, 2, 3]) == {1: make_explanation(1), 3: make_explanation(3)}
    assert two.get_explanations(8, [1, 3]) == {}, "another user's explanations answered"
    two.put_explanations(7, {1: make_explanation(4)})
    assert one.get_explanations(7, [1]) == {1: make_explanation(4)}
    assert tier(OTHER_FP).get_explanations(7, [1, 3]) == {}


def test_the_explanations_file_stays_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(SQLiteSharedCache, "_CHECK_EVERY", 5)
    path = tmp_path / "feedback.cache.sqlite3"
    cache = SQLiteSharedCache(path, FP, max_explanations=30)

    def held() -> int:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT COUNT(*) FROM explanations").fetchone()[0]

    for user in range(4):  # 4 writes of 10: 40 rows, over the bound, but not checked yet
        cache.put_explanations(user, {row: make_explanation(row) for row in range(10)})
    assert held() == 40
    cache.put_explanations(4, {0: make_explanation(0)})  # the 5th write checks, and drops them
    assert held() == 0
    cache.put_explanations(5, {row: make_explanation(row) for row in range(10)})
    assert cache.get_explanations(5, [3]) == {3: make_explanation(3)}
    cache.close()
    roomy = SQLiteSharedCache(path, FP)
    for user in range(4):
        roomy.put_explanations(user, {row: make_explanation(row) for row in range(10)})
    roomy.close()
    assert held() == 50
    SQLiteSharedCache(path, FP, max_explanations=30).close()  # and at start-up
    assert held() == 0


def test_a_damaged_pool_file_is_rebuilt_empty_and_a_damaged_entry_is_recomputed(tmp_path, caplog):
    path = tmp_path / "feedback.cache.sqlite3"
    pools = SQLiteSharedCache(path, FP)
    pools.put_pool(1, 1, make_pool(1))
    pools.put_pool(2, 1, make_pool(2))
    pools.close()
    with sqlite3.connect(path) as conn:  # flip one byte of a stored pool, as a torn write would
        body = bytearray(conn.execute("SELECT body FROM pools WHERE user_id = 2").fetchone()[0])
        body[100] ^= 0xFF
        conn.execute("UPDATE pools SET body = ? WHERE user_id = 2", (bytes(body),))
    pools = SQLiteSharedCache(path, FP)
    assert_same_pool(pools.get_pool(1, 1), make_pool(1))
    with caplog.at_level(logging.WARNING, logger="recsys_utils.service.shared_cache"):
        assert pools.get_pool(2, 1) is None
    assert "checksum" in caplog.text
    pools.close()

    for suffix in ("-wal", "-shm"):
        (tmp_path / f"{path.name}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)  # not a database any more
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="recsys_utils.service.shared_cache"):
        pools = SQLiteSharedCache(path, FP)
    assert "rebuilt empty" in caplog.text
    assert pools.get_pool(1, 1) is None
    pools.put_pool(1, 1, make_pool(1))
    assert_same_pool(pools.get_pool(1, 1), make_pool(1))
    pools.close()


def test_entries_of_other_artefacts_are_dropped_at_start_up(tmp_path):
    path = tmp_path / "feedback.cache.sqlite3"
    old = SQLiteSharedCache(path, OTHER_FP)
    for user in range(5):
        old.put_pool(user, 1, make_pool(user))
    old.close()
    SQLiteSharedCache(path, FP).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM pools").fetchone()[0] == 0


def test_a_locked_pool_file_skips_the_write_within_its_timeout(tmp_path):
    path = tmp_path / "feedback.cache.sqlite3"
    pools = SQLiteSharedCache(path, FP)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    start = time.monotonic()
    pools.put_pool(1, 1, make_pool(1))
    assert time.monotonic() - start < 0.5
    assert pools.get_pool(1, 1) is None, "the skipped write was stored"
    blocker.execute("ROLLBACK")
    blocker.close()
    pools.put_pool(1, 1, make_pool(1))
    assert_same_pool(pools.get_pool(1, 1), make_pool(1))
    pools.close()


def test_a_stalled_redis_is_a_miss_and_a_skipped_write_within_its_timeout(redis_url):
    import redis

    pools = RedisSharedCache(redis_url, FP, namespace=f"pools{next(_namespaces)}")
    blocker = redis.Redis.from_url(redis_url)
    # DEBUG SLEEP blocks the (single-threaded) server, as a stalled or overloaded Redis would.
    thread = threading.Thread(target=lambda: blocker.execute_command("DEBUG", "SLEEP", "0.6"))
    thread.start()
    time.sleep(0.1)
    start = time.monotonic()
    assert pools.get_pool(1, 1) is None
    pools.put_pool(1, 1, make_pool(1))
    assert time.monotonic() - start < 0.4
    thread.join()
    blocker.close()
    pools.close()


def test_the_fingerprint_moves_with_any_artefact_byte_code_or_setting(tmp_path):
    data = tmp_path / "artifacts"
    (data / "policies").mkdir(parents=True)
    (data / "service").mkdir()
    (data / "policies" / "best.zip").write_bytes(b"weights")
    (data / "service" / "feedback.sqlite3").write_bytes(b"log")
    before = tree_digest([data], skip=("service",))
    (data / "service" / "feedback.sqlite3").write_bytes(b"a longer log")  # state, not an artefact
    assert tree_digest([data], skip=("service",)) == before
    (data / "policies" / "best.zip").write_bytes(b"weightz")
    assert tree_digest([data], skip=("service",)) != before
    (data / "policies" / "best.zip").write_bytes(b"weights")
    (data / "policies" / "new.npz").write_bytes(b"")
    assert tree_digest([data], skip=("service",)) != before

    base = cache_fingerprint(FP, pool_size=50, window=5)
    assert cache_fingerprint(FP, window=5, pool_size=50) == base
    assert cache_fingerprint(FP, pool_size=40, window=5) != base
    assert cache_fingerprint(OTHER_FP, pool_size=50, window=5) != base


# -- in the service: two workers over one state store ------------------------------------------------


def _worker(store: str, feedback_db, **extra):
    settings = ServiceSettings(source="synthetic", feedback_db=feedback_db, state_store=store,
                               learner=LearnerConfig(enabled=False), **extra)
    return TestClient(create_app(settings))


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_the_pool_and_explanations_one_worker_made_answer_the_next_workers_request(backend, tmp_path, request):
    if backend == "redis":
        import redis

        store = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/1"  # a database of its own
        redis.Redis.from_url(store).flushdb()
    else:
        store = "sqlite"
    db = tmp_path / "feedback.sqlite3"
    with _worker(store, db) as one, _worker(store, db) as two, _worker(store, db, pool_size=40) as other:
        users = [int(u) for u in one.app.state.service.artifacts.users.user_ids[:8]]

        def ask(client, user):
            return client.post("/recommend", json={"user_id": user, "k": 10}).json()

        for user in users:
            first = ask(one, user)["items"][0]["movie_id"]
            assert one.post("/feedback", json={"user_id": user, "movie_id": first, "event": "like"}).status_code == 200
        computed = {user: ask(one, user) for user in users}
        explainer = two.app.state.service.artifacts.explainer
        made = []
        explainer.explain = lambda context, movie, _explain=explainer.explain: made.append(1) or _explain(context, movie)
        served = {user: ask(two, user) for user in users}
        assert not made, f"the second worker explained {len(made)} movies again"
        assert served == computed
        assert all(answer["user"]["profile_version"] == 1 for answer in served.values())
        table = two.get("/health").json()["candidate_table"]
        assert table["answered"] == {"this_worker": 0, "shared": len(users), "computed": 0}
        assert table["shared"] == ("SQLite feedback.cache.sqlite3" if backend == "sqlite" else f"Redis {store}")
        assert [ask(two, user) for user in users] == list(computed.values())
        assert two.get("/health").json()["candidate_table"]["answered"]["this_worker"] == len(users)

        # Another pool size is another fingerprint: that worker computes its own pools.
        for user in users:
            ask(other, user)
        assert other.get("/health").json()["candidate_table"]["answered"]["computed"] == len(users)

    # And a worker with the tier turned off computes every pool, to the same answers.
    with _worker(store, db, shared_cache=False) as alone:
        assert {user: ask(alone, user) for user in users} == computed
        table = alone.get("/health").json()["candidate_table"]
        assert table["shared"] is None and table["answered"]["computed"] == len(users)

