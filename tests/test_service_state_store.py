"""One contract, two backends: the SQLite store (one machine) and the Redis store (scale-out).

The Redis half runs against a real ``redis-server`` (Debian's package) that the fixture starts
on a free loopback port with persistence off (``conftest.redis_url``). Without the binary the
Redis tests are skipped locally; under ``CI=true`` a missing server is a failure (``.ci/run``
installs it).
"""

from __future__ import annotations

import threading
import time

import pytest

from recsys_utils.service.errors import StoreBusy
from recsys_utils.service.feedback_store import NewEvent, RedisStateStore, SQLiteStateStore
from recsys_utils.service.running import free_loopback_port

_namespaces = iter(range(10**6))


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        made = SQLiteStateStore(tmp_path / "state.sqlite3")
    else:
        made = RedisStateStore(request.getfixturevalue("redis_url"), namespace=f"test{next(_namespaces)}")
    yield made
    made.close()


def test_events_keep_order_content_and_users(store):
    ids = [store.append(1 + i % 3, 10 + i, "impression", features=[0.5, i]) for i in range(6)]
    ids.append(store.append(2, 11, "watch", watch_fraction=0.25))
    assert ids == list(range(1, 8))
    assert store.last_id() == store.count() == 7
    everything = store.events()
    assert [e.id for e in everything] == ids
    assert everything[0].features == (0.5, 0.0) and everything[0].event == "impression"
    assert everything[-1].watch_fraction == 0.25 and everything[-1].features is None
    assert [e.id for e in store.events(after_id=5)] == [6, 7]
    assert [e.movie_id for e in store.events(user_id=2)] == [11, 14, 11]
    assert [e.id for e in store.events(after_id=2, user_id=2)] == [5, 7]
    with pytest.raises(ValueError, match="purchase"):
        store.append(1, 1, "purchase")


def test_an_idempotency_key_stores_the_event_once(store):
    first = store.store(4, 20, "click", idempotency_key="abc-1")
    again = store.store(4, 20, "click", idempotency_key="abc-1")
    other = store.store(4, 21, "click", idempotency_key="abc-2")
    assert not first.duplicate and again.duplicate and again.event_id == first.event_id
    assert other.event_id == first.event_id + 1 and store.count() == 2


def test_a_batch_is_stored_in_order_once_and_all_or_nothing(store):
    """store_many (POST /feedback/batch): one atomic write; keys repeated in the batch or from an
    earlier one store nothing; a bad event anywhere stores none of the batch."""
    store.append(9, 1, "impression")
    batch = [NewEvent(1, 10, "impression", features=(0.5, 1.0), idempotency_key="a"), NewEvent(1, 10, "click"),
             NewEvent(1, 10, "watch", watch_fraction=0.75), NewEvent(1, 10, "impression", idempotency_key="a"),
             NewEvent(2, 11, "like", idempotency_key="b")]
    stored = store.store_many(batch)
    assert [(s.event_id, s.duplicate) for s in stored] == [(2, False), (3, False), (4, False), (2, True), (5, False)]
    assert [(e.user_id, e.event) for e in store.events(after_id=1)] == [(1, "impression"), (1, "click"), (1, "watch"),
                                                                        (2, "like")]
    assert store.events(after_id=1)[0].features == (0.5, 1.0) and store.events(after_id=3)[0].watch_fraction == 0.75
    again = store.store_many([NewEvent(2, 11, "like", idempotency_key="b"), NewEvent(3, 12, "dislike")])
    assert [(s.event_id, s.duplicate) for s in again] == [(5, True), (6, False)]
    with pytest.raises(ValueError, match="purchase"):
        store.store_many([NewEvent(4, 13, "impression"), NewEvent(4, 13, "purchase")])
    assert store.count() == 6 and store.store_many([]) == []


def test_a_sqlite_batch_that_fails_mid_write_is_rolled_back(tmp_path):
    with SQLiteStateStore(tmp_path / "state.sqlite3") as store:
        store.append(1, 1, "impression")
        with pytest.raises(OverflowError):  # the second insert fails inside the transaction
            store.store_many([NewEvent(1, 2, "impression"), NewEvent(2**70, 3, "click")])
        assert store.count() == 1 and [e.movie_id for e in store.events()] == [1]
        assert store.append(1, 4, "like") == 2  # the store goes on; no id was used up


def test_concurrent_appends_get_dense_unique_ids(store):
    got: list[int] = []
    lock = threading.Lock()

    def writer(w):
        for i in range(25):
            event_id = store.append(w + 1, i + 1, "impression")
            with lock:
                got.append(event_id)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 101))


def test_policy_versions_only_move_forward(store):
    assert store.policy() is None
    assert store.publish_policy(1, {"weights": [1.0, 0.0]})
    assert store.publish_policy(3, {"weights": [0.5, 0.5]})
    assert not store.publish_policy(2, {"weights": [9.0, 9.0]}), "an older version overwrote a newer one"
    assert store.policy() == (3, {"weights": [0.5, 0.5]})


def test_one_learner_holds_the_lock(store):
    assert store.try_lock("learner", "worker-a", ttl_s=0.3)
    assert store.try_lock("learner", "worker-a", ttl_s=0.3), "the holder could not renew"
    assert not store.try_lock("learner", "worker-b", ttl_s=0.3)
    time.sleep(0.4)  # the holder died without releasing: the lock expires
    assert store.try_lock("learner", "worker-b", ttl_s=5)
    store.release_lock("learner", "worker-a")  # not the holder: no effect
    assert not store.try_lock("learner", "worker-a", ttl_s=5)
    store.release_lock("learner", "worker-b")
    assert store.try_lock("learner", "worker-a", ttl_s=5)


def test_an_unreachable_redis_is_a_clear_error():
    port = free_loopback_port()  # nothing listens there
    with pytest.raises(ConnectionError, match="redis-server"):
        RedisStateStore(f"redis://127.0.0.1:{port}/0", timeout_s=0.2)


def test_a_slow_redis_answers_busy_quickly(redis_url):
    made = RedisStateStore(redis_url, timeout_s=0.2, namespace="slow")
    blocker = RedisStateStore(redis_url, timeout_s=5, namespace="slow")
    # DEBUG SLEEP blocks the (single-threaded) server, as a stalled or overloaded Redis would.
    thread = threading.Thread(target=lambda: blocker.client.execute_command("DEBUG", "SLEEP", "1"))
    thread.start()
    time.sleep(0.1)
    start = time.monotonic()
    with pytest.raises(StoreBusy, match="Idempotency-Key"):
        made.append(1, 1, "click")
    assert time.monotonic() - start < 1.0
    thread.join()
    made.close()
    blocker.close()
