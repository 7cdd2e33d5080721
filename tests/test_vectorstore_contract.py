"""One contract, two backends: the embedded NumPy store and Pinecone through the real SDK
talking to the loopback stand-in (tests/pinecone_standin.py)."""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np
import pytest
from filter_reference import matches as reference_matches
from pinecone_standin import PineconeStandIn

from recsys_utils.vectorstore import (
    FilterError,
    MetadataError,
    VectorStoreError,
    ZeroQueryError,
    limits,
    open_store,
    resolve_backend,
)

DIM = 16
API_KEY = "standin-key-for-tests"
_names = itertools.count()


@pytest.fixture(scope="module")
def standin():
    with PineconeStandIn(api_key=API_KEY) as running:
        yield running


@pytest.fixture
def pinecone_env(standin, monkeypatch):
    monkeypatch.setenv("PINECONE_API_KEY", API_KEY)
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", standin.url)
    return standin


@pytest.fixture(params=["local", "pinecone"])
def make_store(request, tmp_path, monkeypatch):
    """``make_store(dimension=16, name=None)`` opens a fresh store on the parametrised backend."""
    if request.param == "pinecone":
        request.getfixturevalue("pinecone_env")

    def make(dimension: int = DIM, name: str | None = None, metric: str = "cosine"):
        name = name or f"contract-{next(_names)}"
        if request.param == "local":
            return open_store("local", name=name, dimension=dimension, metric=metric, path=tmp_path)
        return open_store("pinecone", name=name, dimension=dimension, metric=metric)

    make.backend = request.param
    return make


def _movies(n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    genres = ["Action", "Comedy", "Drama", "Sci-Fi", "Thriller"]
    records = []
    for i in range(n):
        meta = {
            "title": f"Movie {i}",
            "genres": sorted(set(rng.choice(genres, size=rng.integers(1, 3)).tolist())),
            "mean_rating": round(float(rng.uniform(1, 5)), 2),
            "classic": bool(i % 3 == 0),
        }
        if i % 4:
            meta["year"] = int(1950 + 2 * i)
        records.append((str(i), vectors[i], meta))
    return records


def _cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _expected(records, query, flt, top_k):
    admitted = [(rid, _cosine(vec, query)) for rid, vec, meta in records if reference_matches(meta, flt)]
    admitted.sort(key=lambda item: -item[1])
    return admitted[:top_k]


def test_upsert_stats_fetch(make_store):
    store = make_store()
    records = _movies()
    assert store.upsert(records) == len(records)
    stats = store.stats()
    assert stats["total_vector_count"] == len(records)
    assert stats["namespaces"] == {"": len(records)}
    assert stats["dimension"] == DIM and stats["backend"] == make_store.backend
    fetched = store.fetch(["3", "7", "no-such-id"])
    assert set(fetched) == {"3", "7"}
    assert fetched["3"].metadata == records[3][2]
    # Cosine stores may keep the unit-length copy; the direction is what must survive.
    assert _cosine(fetched["3"].vector, records[3][1]) == pytest.approx(1.0, abs=1e-5)


def test_upsert_replaces_by_id(make_store):
    store = make_store()
    records = _movies()
    store.upsert(records)
    new_vector = -records[0][1]
    store.upsert([("0", new_vector, {"title": "Replaced"})])
    assert store.count() == len(records)
    record = store.fetch(["0"])["0"]
    assert record.metadata == {"title": "Replaced"}
    assert _cosine(record.vector, new_vector) == pytest.approx(1.0, abs=1e-5)


def test_query_ranks_by_cosine(make_store):
    store = make_store()
    records = _movies()
    store.upsert(records)
    query = records[5][1] + 0.1
    matches = store.query(query, top_k=5)
    expected = _expected(records, query, None, 5)
    assert [m.id for m in matches] == [rid for rid, _ in expected]
    assert [m.score for m in matches] == pytest.approx([s for _, s in expected], abs=1e-5)
    assert matches[0].metadata == records[5][2]
    assert all(m.metadata is None for m in store.query(query, top_k=3, include_metadata=False))


@pytest.mark.parametrize(
    "flt",
    [
        {"genres": "Drama"},
        {"genres": {"$in": ["Sci-Fi", "Thriller"]}},
        {"genres": {"$nin": ["Drama"]}},
        {"genres": {"$ne": "Comedy"}},
        {"year": {"$gte": 1980, "$lt": 2010}},
        {"year": {"$exists": False}},
        {"classic": True},
        {"$or": [{"genres": "Action"}, {"mean_rating": {"$gt": 4.0}}]},
        {"$and": [{"genres": "Drama"}, {"genres": "Comedy"}]},
        {"genres": "Western"},
    ],
)
def test_filters_match_reference(make_store, flt):
    store = make_store()
    records = _movies()
    store.upsert(records)
    query = records[1][1]
    expected = _expected(records, query, flt, 10)
    matches = store.query(query, top_k=10, filter=flt)
    assert [m.id for m in matches] == [rid for rid, _ in expected]
    for match in matches:
        assert reference_matches(match.metadata, flt)


@pytest.mark.parametrize(
    "bad",
    [
        {"year": {"$regex": "19.*"}},
        {"year": {"$gt": "1990"}},
        {"genres": {"$in": "Drama"}},
        {"$not": {"genres": "Drama"}},
        {"$or": []},
        {"genres": ["Drama", "Comedy"]},
        {"year": {"$exists": "yes"}},
        {},
        "genres = Drama",
    ],
)
def test_invalid_filters_raise_clear_error(make_store, bad):
    store = make_store()
    store.upsert(_movies(5))
    with pytest.raises(FilterError) as info:
        store.query(_movies(1)[0][1], top_k=3, filter=bad)
    assert "filter" in str(info.value)


def test_namespaces_are_separate(make_store):
    store = make_store()
    records = _movies(10)
    store.upsert(records[:6], namespace="a")
    store.upsert(records[6:], namespace="b")
    assert store.stats()["namespaces"] == {"a": 6, "b": 4}
    assert {m.id for m in store.query(records[0][1], top_k=10, namespace="b")} == {r[0] for r in records[6:]}
    assert store.query(records[0][1], top_k=3) == []
    store.delete_all("a")
    assert store.stats()["namespaces"] == {"b": 4}


def test_delete(make_store):
    store = make_store()
    records = _movies(10)
    store.upsert(records)
    store.delete(["1", "2", "unknown"])
    assert store.count() == 8
    assert "1" not in store.fetch(["1", "3"])
    assert all(m.id not in {"1", "2"} for m in store.query(records[1][1], top_k=10))


def test_query_many_agrees_with_query_and_pads(make_store):
    store = make_store()
    records = _movies(30)
    store.upsert(records)
    queries = np.stack([records[i][1] for i in (0, 7, 12)])
    ids, scores = store.query_many(queries, top_k=4)
    assert ids.shape == (3, 4) and scores.shape == (3, 4)
    for row, query in enumerate(queries):
        single = store.query(query, top_k=4, include_metadata=False)
        assert ids[row].tolist() == [m.id for m in single]
        assert scores[row] == pytest.approx([m.score for m in single], abs=1e-5)
    ids, scores = store.query_many(queries, top_k=5, filter={"genres": "Western"})
    assert (ids == "").all() and np.isneginf(scores).all()


def test_query_many_int_is_query_many_with_integer_ids(make_store):
    """The generator's hot path: the same answer as query_many, ids as int64 and -1 in the padding."""
    store = make_store()
    records = _movies(30)
    store.upsert(records)
    queries = np.stack([records[i][1] for i in (0, 7, 12)])
    for top_k, flt in ((4, None), (40, None), (5, {"genres": "Western"})):
        text, text_scores = store.query_many(queries, top_k=top_k, filter=flt)
        ids, scores = store.query_many_int(queries, top_k=top_k, filter=flt)
        assert ids.dtype == np.int64 and ids.shape == text.shape
        assert ids.tolist() == [[int(i) if i else -1 for i in row] for row in text.tolist()]
        np.testing.assert_array_equal(scores, text_scores)
    # ids that are not canonical integers ("007") keep their text meaning; non-integers are refused
    odd = make_store()
    odd.upsert([("007", np.ones(DIM), {}), ("8", -np.ones(DIM), {})])
    assert odd.query_many_int(np.ones((1, DIM)), top_k=3)[0].tolist() == [[7, 8, -1]]
    odd.upsert([("bond", np.ones(DIM) * 2, {})])
    with pytest.raises(VectorStoreError, match="not integers"):
        odd.query_many_int(np.ones((1, DIM)), top_k=3)


def test_the_embedded_store_leaves_excluded_ids_out_before_its_top_k(tmp_path):
    """``query_many_int_excluding`` (the generator's unseen top lists): per query, the answer of
    an over-fetching query_many_int with that query's excluded ids dropped, cut to top_k."""
    store = open_store("local", name="excluding", dimension=DIM, path=tmp_path)
    records = _movies(30)
    store.upsert(records)
    queries = np.stack([records[i][1] for i in (0, 7, 12)])
    every_id = [int(r[0]) for r in records]
    excluded = [np.array(every_id[:10]), np.array([], dtype=np.int64), np.array(every_id[3:29] + [99_999])]
    for top_k, flt in ((4, None), (40, None), (5, {"genres": "Drama"}), (5, {"genres": "Western"})):
        ids, scores = store.query_many_int_excluding(queries, top_k, excluded, filter=flt)
        all_ids, all_scores = store.query_many_int(queries, top_k=len(records), filter=flt)
        assert ids.shape == scores.shape == (3, top_k)
        for row in range(3):
            keep = (all_ids[row] >= 0) & ~np.isin(all_ids[row], excluded[row])
            want = all_ids[row][keep][:top_k]
            assert ids[row][: want.size].tolist() == want.tolist()
            assert (ids[row][want.size:] == -1).all() and np.isneginf(scores[row][want.size:]).all()
            np.testing.assert_allclose(scores[row][: want.size], all_scores[row][keep][:top_k], atol=1e-6)
    assert (store.query_many_int_excluding(queries, 5, excluded)[0][2] >= 0).sum() == 4  # 4 of the 30 are left
    with pytest.raises(VectorStoreError, match="one per query"):
        store.query_many_int_excluding(queries, 3, excluded[:2])
    odd = open_store("local", name="odd-ids", dimension=DIM, path=tmp_path)
    odd.upsert([("007", np.ones(DIM), {})])
    assert odd.query_many_int_excluding(np.ones((1, DIM)), 3, [np.array([7])]) is None  # caller over-fetches


def test_the_embedded_store_lays_every_score_out_in_the_callers_id_order(tmp_path):
    """``scores_by_int_id`` (the generator's online update): one query's score of every record,
    placed by the caller's id array (-inf for ids not stored); recomputed for another array and
    after an upsert; None for ids that are not canonical integers."""
    store = open_store("local", name="layout", dimension=DIM, path=tmp_path)
    records = _movies(30)
    store.upsert(records)
    query = records[4][1] + 0.5 * records[9][1]
    all_ids, all_scores = store.query_many_int(query[None, :], top_k=len(records))
    exact = dict(zip(all_ids[0].tolist(), all_scores[0].tolist(), strict=True))
    order = np.array([int(r[0]) for r in records][::-1] + [99_999], dtype=np.int64)  # unsorted, one unknown
    got = store.scores_by_int_id(query, order)
    assert got.dtype == np.float32 and got.shape == (31,) and np.isneginf(got[-1])
    np.testing.assert_allclose(got[:-1], [exact[i] for i in order[:-1].tolist()], atol=1e-6)
    again = store.scores_by_int_id(query, order[:-1].copy())  # another array: its own layout
    np.testing.assert_allclose(again, got[:-1], atol=0)
    store.upsert([(records[0][0], -records[0][1], records[0][2])])  # a new snapshot: the layout follows it
    flipped = store.scores_by_int_id(query, order)
    assert flipped[29] == pytest.approx(-got[29], abs=1e-6) and np.array_equal(flipped[:29], got[:29])
    with pytest.raises(VectorStoreError, match="one query vector"):
        store.scores_by_int_id(np.stack([query, query]), order)
    with pytest.raises(VectorStoreError, match="int64 id array"):
        store.scores_by_int_id(query, order.astype(np.int32))
    empty = open_store("local", name="layout-empty", dimension=DIM, path=tmp_path)
    assert np.isneginf(empty.scores_by_int_id(query, order)).all()
    odd = open_store("local", name="layout-odd", dimension=DIM, path=tmp_path)
    odd.upsert([("007", np.ones(DIM), {})])
    assert odd.scores_by_int_id(np.ones(DIM), np.array([7])) is None  # the caller takes the top_k path


def test_an_all_zero_query_raises_its_own_error(make_store):
    """The service turns exactly this error (a wish the encoder maps to nothing) into a 400."""
    store = make_store()
    store.upsert([("1", np.ones(DIM), {})])
    with pytest.raises(ZeroQueryError, match="all zeros"):
        store.query(np.zeros(DIM), top_k=1)
    with pytest.raises(ZeroQueryError, match="row 1 is all zeros"):
        store.query_many(np.stack([np.ones(DIM), np.zeros(DIM)]), top_k=1)


def test_bad_records_are_refused(make_store):
    store = make_store()
    with pytest.raises(VectorStoreError, match="length 3"):
        store.upsert([("1", [0.1, 0.2, 0.3], {})])
    with pytest.raises(VectorStoreError, match="all-zero"):
        store.upsert([("1", np.zeros(DIM), {})])
    with pytest.raises(VectorStoreError, match="str"):
        store.upsert([(1, np.ones(DIM), {})])
    with pytest.raises(TypeError, match="list of strings"):
        store.upsert([("1", np.ones(DIM), {"genres": [1, 2]})])
    with pytest.raises(TypeError, match="nested"):
        store.upsert([("1", np.ones(DIM), {"nested": {"a": 1}})])
    with pytest.raises(VectorStoreError, match="top_k"):
        store.query(np.ones(DIM), top_k=0)
    assert store.count() == 0


def test_null_metadata_is_dropped(make_store):
    store = make_store()
    store.upsert([("1", np.ones(DIM), {"title": "A", "year": None, "imdb": math.nan, "votes": np.int64(3)})])
    assert store.fetch(["1"])["1"].metadata == {"title": "A", "votes": 3}


def test_manifest_round_trip(make_store):
    store = make_store()
    assert store.get_manifest() == {}
    store.set_manifest({"content_hash": "abc123", "dataset": "ml-100k"})
    store.set_manifest({"content_hash": "def456"})
    assert store.get_manifest() == {"content_hash": "def456"}


# ---- backend-specific behaviour ----------------------------------------------------------


def test_local_store_persists_and_refuses_other_shape(tmp_path):
    store = open_store("local", name="persist", dimension=DIM, path=tmp_path)
    records = _movies(12)
    store.upsert(records)
    store.set_manifest({"content_hash": "x"})
    reopened = open_store("local", name="persist", dimension=DIM, path=tmp_path)
    assert reopened.count() == 12 and reopened.get_manifest() == {"content_hash": "x"}
    assert reopened.query(records[4][1], top_k=1)[0].id == "4"
    with pytest.raises(VectorStoreError, match="16-d cosine"):
        open_store("local", name="persist", dimension=32, path=tmp_path)


def test_local_default_path_is_under_artifacts(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    store = open_store("local", name="movies", dimension=DIM)
    store.upsert(_movies(2))
    assert (tmp_path / "artifacts" / "vectorstore" / "movies" / "store.json").exists()


def test_auto_backend_follows_api_key(monkeypatch):
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    assert resolve_backend("auto") == "local"
    monkeypatch.setenv("PINECONE_API_KEY", "anything")
    assert resolve_backend("auto") == "pinecone"
    assert resolve_backend("local") == "local"
    with pytest.raises(ValueError, match="backend"):
        resolve_backend("faiss")


def test_pinecone_without_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    with pytest.raises(VectorStoreError, match="PINECONE_API_KEY"):
        open_store("pinecone", dimension=DIM)


def test_pinecone_creates_serverless_index_from_env(pinecone_env, monkeypatch):
    monkeypatch.setenv("PINECONE_CLOUD", "gcp")
    monkeypatch.setenv("PINECONE_REGION", "europe-west4")
    open_store("pinecone", name="created-here", dimension=DIM)
    index = pinecone_env.indexes["created-here"]
    assert index.deployment == {"deployment_type": "managed", "cloud": "gcp", "region": "europe-west4"}
    assert (index.dimension, index.metric) == (DIM, "cosine")
    assert all(r["api_version"] == "2026-07" for r in pinecone_env.requests)


def test_pinecone_refuses_dimension_or_metric_mismatch(pinecone_env):
    open_store("pinecone", name="shape-check", dimension=DIM)
    with pytest.raises(VectorStoreError, match="delete-index shape-check"):
        open_store("pinecone", name="shape-check", dimension=DIM * 2)
    with pytest.raises(VectorStoreError, match="dotproduct"):
        open_store("pinecone", name="shape-check", dimension=DIM, metric="dotproduct")


def test_pinecone_batches_stay_under_limits(pinecone_env):
    store = open_store("pinecone", name="batching", dimension=384)
    rng = np.random.default_rng(1)
    before = len(pinecone_env.requests)
    records = [(str(i), rng.normal(size=384), {"title": "t" * 200}) for i in range(1200)]
    assert store.upsert(records) == 1200
    upserts = [r for r in pinecone_env.requests[before:] if r["path"] == "/vectors/upsert"]
    assert len(upserts) >= 2
    assert all(r["bytes"] < 2 * 1024 * 1024 for r in upserts)
    assert store.count() == 1200


def test_pinecone_retries_throttling_and_server_errors(pinecone_env):
    store = open_store("pinecone", name="retries", dimension=DIM)
    pinecone_env.fail_next("/vectors/upsert", 429, 503)
    assert store.upsert(_movies(5)) == 5
    pinecone_env.fail_next("/query", 500)
    assert len(store.query(_movies(1)[0][1], top_k=2)) == 2


def test_pinecone_api_key_never_logged(pinecone_env, caplog):
    caplog.set_level(logging.DEBUG)
    store = open_store("pinecone", name="quiet", dimension=DIM)
    store.upsert(_movies(3))
    store.query(_movies(1)[0][1], top_k=1)
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(store)


def test_delete_index_helper(pinecone_env):
    from recsys_utils.vectorstore.pinecone_store import delete_index

    open_store("pinecone", name="to-delete", dimension=DIM)
    assert delete_index("to-delete") is True
    assert "to-delete" not in pinecone_env.indexes
    assert delete_index("to-delete") is False


def test_command_line_stats_and_delete(pinecone_env, capsys, monkeypatch, tmp_path):
    from recsys_utils.vectorstore.__main__ import main

    open_store("pinecone", name="cli-index", dimension=384).upsert([("1", np.ones(384), {})])
    assert main(["stats", "cli-index", "--backend", "pinecone"]) == 0
    assert '"total_vector_count": 1' in capsys.readouterr().out
    assert main(["delete-index", "cli-index"]) == 0
    assert "deleted Pinecone index 'cli-index'" in capsys.readouterr().out
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    assert main(["stats", "--backend", "local"]) == 0
    assert '"backend": "local"' in capsys.readouterr().out


def test_query_response_has_pinecones_shape():
    from recsys_utils.vectorstore import LocalVectorStore, Match, QueryResponse

    store = LocalVectorStore(name="shape", dimension=2, metric="cosine")
    store.upsert([("a", [1.0, 0.0], {"genre": "x"}), ("b", [0.0, 1.0], {"genre": "y"})])
    response = store.query([1.0, 0.1], top_k=2, include_metadata=True)
    assert isinstance(response, QueryResponse)
    assert response.matches is response["matches"] and len(response) == 2
    best = response.matches[0]
    assert best.id == best["id"] == "a" and best["metadata"] == {"genre": "x"}
    assert [m.id for m in response] == ["a", "b"] and isinstance(response[0], Match)
    assert response == [response[0], response[1]]


# ---- limits (vectorstore/limits.py), the same on both backends ---------------------------


def test_limits_are_pinecones():
    """The limits the pinned SDK checks itself must be ours; the others are Pinecone's documented
    values (change one only when Pinecone does: the stand-in enforces whatever limits.py says)."""
    from pinecone import schema_builder
    from pinecone._internal import validation

    assert limits.MAX_TOP_K == validation.QUERY_TOP_K_MAX
    assert limits.MAX_ID_LENGTH == validation.VECTOR_ID_MAX_LEN
    assert limits.MAX_NAMESPACE_LENGTH == validation.NAMESPACE_NAME_MAX_LEN
    assert limits.MAX_DIMENSION == schema_builder._DIMENSION_MAX
    assert (limits.MAX_METADATA_BYTES, limits.MAX_UPSERT_RECORDS, limits.MAX_UPSERT_BYTES) == (40_960, 1_000, 2_097_152)
    assert (limits.MAX_REQUEST_IDS, limits.MAX_SAFE_INTEGER) == (1_000, 2**53)


def _signs(seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(DIM) < 0.5, -1.0, 1.0)


def test_extreme_float32_scales_keep_their_direction(make_store):
    """1e-45 (float32's smallest subnormal) and 3e38 (near its maximum) in every position:
    stored at unit length, scored as the cosine they are, never inf or 0."""
    store = make_store()
    tiny, huge = 1e-45 * _signs(1), 3e38 * _signs(2)
    store.upsert(_movies(10) + [("tiny", tiny, {}), ("huge", huge, {})])
    for record_id, direction in (("tiny", _signs(1)), ("huge", _signs(2))):
        stored = store.fetch([record_id])[record_id].vector
        assert np.isfinite(stored).all() and np.linalg.norm(stored) == pytest.approx(1.0, abs=1e-5)
        for query in (direction, direction * 3e38, (direction * 1e-45).astype(np.float32)):
            matches = store.query(query, top_k=12)
            assert matches[0].id == record_id and matches[0].score == pytest.approx(1.0, abs=1e-5)
            assert all(math.isfinite(m.score) and abs(m.score) <= 1 + 1e-5 for m in matches)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e39, -3.5e38])
def test_values_outside_finite_float32_are_refused(make_store, value):
    store = make_store()
    vector = np.ones(DIM)
    vector[5] = value
    with pytest.raises(VectorStoreError, match=r"record 'bad'.*position 5") as info:
        store.upsert(_movies(3) + [("bad", vector, {})])
    assert ("finite" in str(info.value)) or ("float32" in str(info.value))
    assert store.count() == 0  # nothing of a refused batch is stored


def test_dotproduct_underflow_and_overflow(make_store):
    store = make_store(metric="dotproduct")
    with pytest.raises(VectorStoreError, match="smallest normal"):
        store.upsert([("tiny", np.full(DIM, 1e-40), {})])
    with pytest.raises(VectorStoreError, match="MAX_DOTPRODUCT_NORM"):
        store.upsert([("huge", np.full(DIM, 3e38), {})])
    mixed = np.ones(DIM)
    mixed[:4] = 1e-40  # subnormal in float32: stored as 0
    store.upsert([("mixed", mixed, {})])
    stored = store.fetch(["mixed"])["mixed"].vector
    assert stored[:4].tolist() == [0.0] * 4 and stored[4:].tolist() == [1.0] * (DIM - 4)
    with pytest.raises(VectorStoreError, match="MAX_DOTPRODUCT_NORM"):
        store.query(np.full(DIM, 1e19), top_k=1)
    assert store.query(np.full(DIM, 1e18), top_k=1)[0].score == pytest.approx(1e18 * (DIM - 4), rel=1e-5)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_nan_or_infinite_query_is_refused(make_store, value):
    store = make_store()
    store.upsert(_movies(5))
    query = np.ones(DIM, dtype=np.float32)
    query[2] = value
    with pytest.raises(VectorStoreError, match="query vector: value .* at position 2 is not a finite"):
        store.query(query, top_k=3)
    with pytest.raises(VectorStoreError, match="query_many row 1"):
        store.query_many(np.stack([np.ones(DIM), query]), top_k=3)


def test_metadata_size_limit(make_store):
    store = make_store()
    room = limits.MAX_METADATA_BYTES - limits.metadata_bytes({"plot": "", "title": "é"})
    fits = {"plot": "p" * room, "title": "é"}  # "é" is 2 bytes of UTF-8: bytes are counted, not characters
    store.upsert([("fits", np.ones(DIM), fits)])
    assert store.fetch(["fits"])["fits"].metadata == fits
    over = {"plot": "p" * (room + 1), "title": "é"}
    with pytest.raises(MetadataError, match=r"40,961 bytes of metadata.*40,960.*'plot'"):
        store.upsert([("over", np.ones(DIM), over)])
    with pytest.raises(MetadataError, match="50,0"):
        store.upsert([("way-over", np.ones(DIM), {"plot": "x" * 50_000})])
    assert set(store.fetch(["fits", "over", "way-over"])) == {"fits"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.inf, "only finite numbers"),
        (-np.float32(np.inf), "only finite numbers"),
        (10**400, r"beyond ±2\*\*53"),
        (2**53 + 1, r"beyond ±2\*\*53"),
    ],
)
def test_unstorable_metadata_numbers_are_refused(make_store, value, message):
    store = make_store()
    with pytest.raises(MetadataError, match=message):
        store.upsert([("1", np.ones(DIM), {"title": "A", "votes": value})])
    assert store.count() == 0


def test_largest_exact_integer_is_stored_and_filtered(make_store):
    store = make_store()
    store.upsert([("big", np.ones(DIM), {"n": 2**53}), ("small", -np.ones(DIM), {"n": -(2**53)})])
    assert store.fetch(["big"])["big"].metadata == {"n": 2**53}
    assert [m.id for m in store.query(np.ones(DIM), top_k=5, filter={"n": {"$gte": 2**53}})] == ["big"]
    assert [m.id for m in store.query(np.ones(DIM), top_k=5, filter={"n": {"$lt": 0}})] == ["small"]


@pytest.mark.parametrize("flt", [{"n": {"$gt": 10**400}}, {"n": 10**400}, {"n": {"$in": [1, -(10**400)]}}])
def test_filter_numbers_beyond_float64_are_refused(make_store, flt):
    store = make_store()
    store.upsert(_movies(3))
    with pytest.raises(FilterError, match="not a finite 64-bit number"):
        store.query(np.ones(DIM), top_k=2, filter=flt)


def _nested(depth: int, leaf: dict, op: str = "$and") -> dict:
    flt = leaf
    for _ in range(depth):
        flt = {op: [flt]}
    return flt


def test_filter_depth_limit(make_store):
    store = make_store()
    records = _movies()
    store.upsert(records)
    leaf = {"genres": "Drama"}
    deepest = _nested(limits.MAX_FILTER_DEPTH, leaf, "$or")
    got = [m.id for m in store.query(records[0][1], top_k=40, filter=deepest)]
    assert got == [rid for rid, _ in _expected(records, records[0][1], leaf, 40)]
    for depth in (limits.MAX_FILTER_DEPTH + 1, 1000, 100_000):
        with pytest.raises(FilterError, match="more than 32 levels deep"):
            store.query(records[0][1], top_k=3, filter=_nested(depth, leaf))


def test_top_k_limit(make_store):
    store = make_store()
    store.upsert(_movies(10))
    assert len(store.query(np.ones(DIM), top_k=limits.MAX_TOP_K)) == 10
    ids, scores = store.query_many(np.ones((2, DIM)), top_k=limits.MAX_TOP_K)
    assert ids.shape == scores.shape == (2, limits.MAX_TOP_K) and (ids[:, 10:] == "").all()
    for top_k in (limits.MAX_TOP_K + 1, 10**8):
        with pytest.raises(VectorStoreError, match="Pinecone's limit"):
            store.query(np.ones(DIM), top_k=top_k)
        with pytest.raises(VectorStoreError, match="Pinecone's limit"):
            store.query_many(np.ones((2, DIM)), top_k=top_k)


def test_id_limits(make_store):
    store = make_store()
    longest = "i" * limits.MAX_ID_LENGTH
    store.upsert([(longest, np.ones(DIM), {})])
    assert longest in store.fetch([longest])
    with pytest.raises(VectorStoreError, match="513 characters"):
        store.upsert([("i" * 513, np.ones(DIM), {})])
    for bad in ("a\0", "café", "a\ud800"):
        with pytest.raises(VectorStoreError, match="ASCII ids without NUL"):
            store.upsert([(bad, np.ones(DIM), {})])
    with pytest.raises(VectorStoreError, match="MAX_NAMESPACE_LENGTH"):
        store.upsert([("1", np.ones(DIM), {})], namespace="n" * 513)
    assert store.count() == 1


def test_dimension_limit(make_store):
    with pytest.raises(VectorStoreError, match="20,000"):
        make_store(dimension=limits.MAX_DIMENSION + 1)


@pytest.mark.parametrize(
    "call",
    ["metadata over 40 KB", "id over 512 characters", "top_k over 10,000", "filter over 32 levels", "inf in a vector"],
)
def test_standin_refuses_what_pinecone_refuses(pinecone_env, call):
    """The checks above run before any request; the same requests sent straight through the SDK
    are refused too, by the SDK's own checks or by the stand-in answering 400 as Pinecone does."""
    from pinecone import PineconeApiException
    from pinecone.errors import PineconeError

    open_store("pinecone", name="raw-limits", dimension=DIM).upsert(_movies(3))
    from recsys_utils.vectorstore.pinecone_store import pinecone_client

    pc = pinecone_client()
    index = pc.index(host=pc.indexes.describe("raw-limits").host)
    ones = [1.0] * DIM
    with pytest.raises(PineconeError) as info:
        if call == "metadata over 40 KB":
            index.upsert(vectors=[("m", ones, {"plot": "x" * limits.MAX_METADATA_BYTES})])
        elif call == "id over 512 characters":
            index.upsert(vectors=[("i" * 513, ones, {})])
        elif call == "top_k over 10,000":
            index.query(vector=ones, top_k=limits.MAX_TOP_K + 1)
        elif call == "filter over 32 levels":
            index.query(vector=ones, top_k=1, filter=_nested(33, {"genres": "Drama"}))
        else:
            index.upsert(vectors=[("v", [math.inf] + ones[1:], {})])
    if isinstance(info.value, PineconeApiException):
        assert info.value.status_code == 400
