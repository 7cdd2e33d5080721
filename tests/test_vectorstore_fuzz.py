"""Property-based fuzzing of upsert, query and metadata against the rules of vectorstore/limits.py,
on the local store and (fewer examples) on the Pinecone stand-in through the real SDK.

Each property states the rule independently of the implementation: which vectors are stored
and as what, which queries are answered and with which scores, which metadata is accepted.
Random floats cover the whole float64 range: NaN, infinities, float32 subnormals (1e-45),
values beyond float32 (3.5e38) and float64 subnormals.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pinecone_standin import PineconeStandIn

from recsys_utils.vectorstore import MetadataError, VectorStoreError, limits, open_store
from recsys_utils.vectorstore.filters import clean_metadata

DIM = 6
API_KEY = "standin-key-for-fuzzing"
_namespaces = itertools.count()

F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).tiny)

edge_floats = st.sampled_from(
    [0.0, -0.0, 1e-45, -1e-45, 1.4e-45, 1e-40, 1.1e-38, 1.2e-38, 1e-30, 3e38, -3e38, F32_MAX, 3.5e38, 1e39,
     5e-324, 1e300, math.nan, math.inf, -math.inf]
)
values = st.one_of(edge_floats, st.floats(-10, 10), st.floats(allow_nan=True, allow_infinity=True))
vectors = st.lists(values, min_size=DIM, max_size=DIM)


@pytest.fixture(scope="module")
def standin():
    with PineconeStandIn(api_key=API_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def stores(standin):
    """One store per (backend, metric); every example writes to a namespace of its own. The
    local ones stay in memory (persistence is tests/test_vectorstore_integrity.py's job)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PINECONE_API_KEY", API_KEY)
        patch.setenv("PINECONE_CONTROLLER_HOST", standin.url)
        made = {}
        for metric in ("cosine", "dotproduct"):
            made["local", metric] = open_store("local", name=f"fuzz-{metric}", dimension=DIM, metric=metric, in_memory=True)
            made["pinecone", metric] = open_store("pinecone", name=f"fuzz-{metric}", dimension=DIM, metric=metric)
        yield made


def expected_stored(vector: list[float], metric: str) -> np.ndarray | None:
    """The rule, written out: what the store keeps for ``vector``, or None when it must refuse."""
    wide = np.array(vector, dtype=np.float64)
    if not all(math.isfinite(v) and abs(v) <= F32_MAX for v in vector):
        return None
    single = wide.astype(np.float32).astype(np.float64)  # read as float32, as Pinecone stores it
    if metric == "cosine":
        length = math.sqrt(math.fsum(v * v for v in single))
        if length == 0:
            return None
        kept = single / length
    else:
        if math.sqrt(math.fsum(v * v for v in single)) > limits.MAX_DOTPRODUCT_NORM:
            return None
        kept = single
    kept = np.where(np.abs(kept) < F32_TINY, 0.0, kept).astype(np.float32)  # no subnormals
    return kept if kept.any() else None


def _check_upsert(store, vector, metric):
    namespace = f"u{next(_namespaces)}"
    want = expected_stored(vector, metric)
    if want is None:
        with pytest.raises(VectorStoreError):
            store.upsert([("v", vector, {})], namespace=namespace)
        assert store.count(namespace) == 0
        return
    store.upsert([("v", vector, {})], namespace=namespace)
    got = store.fetch(["v"], namespace=namespace)["v"].vector
    if metric == "cosine":  # unit length is computed in float64 either way: allow one float32 ulp
        np.testing.assert_allclose(got, want, rtol=2e-7, atol=0)
    else:
        assert got.tolist() == want.tolist()
    assert not ((got != 0) & (np.abs(got) < F32_TINY)).any()  # no subnormals kept
    store.delete_all(namespace)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(vector=vectors, metric=st.sampled_from(["cosine", "dotproduct"]))
def test_upsert_stores_exactly_what_the_float32_rules_allow(stores, vector, metric):
    _check_upsert(stores["local", metric], vector, metric)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(vector=vectors, metric=st.sampled_from(["cosine", "dotproduct"]))
def test_upsert_on_pinecone_follows_the_same_rules(stores, vector, metric):
    _check_upsert(stores["pinecone", metric], vector, metric)


scales = st.sampled_from([1e-45, 1e-40, 1e-22, 1e-21, 1e-20, 1.0, 1e19, 1e20, 1e30, 1e38])


def _check_query(store, directions, query, scale, poison, top_k):
    namespace = f"q{next(_namespaces)}"
    records = [(str(i), d, {}) for i, d in enumerate(directions)]
    store.upsert(records, namespace=namespace)
    q = np.asarray(query, dtype=np.float64) * scale
    q = q / max(1.0, np.abs(q).max() / F32_MAX)  # stay inside float32's range unless poisoned
    if poison is not None:
        q[0] = poison
    q32 = q.astype(np.float32)
    try:
        if poison is not None or not q32.any():
            with pytest.raises(VectorStoreError):
                store.query(q32, top_k=top_k, namespace=namespace)
            with pytest.raises(VectorStoreError):
                store.query_many(q32[None, :], top_k=top_k, namespace=namespace)
            return
        matches = store.query(q32, top_k=top_k, namespace=namespace)
        ids, scores = store.query_many(q32[None, :], top_k=top_k, namespace=namespace)
        stored = np.stack([store.fetch([r[0]], namespace=namespace)[r[0]].vector for r in records]).astype(np.float64)
        unit_q = q32.astype(np.float64) / np.linalg.norm(q32.astype(np.float64))
        reference = stored @ unit_q
        want = sorted(reference, reverse=True)[:top_k]
        assert len(matches) == min(top_k, len(records))
        assert all(math.isfinite(m.score) and abs(m.score) <= 1 + 1e-5 for m in matches)
        np.testing.assert_allclose([m.score for m in matches], want, atol=1e-5)
        np.testing.assert_allclose(scores[0, : len(want)], want, atol=1e-5)
        for m in matches:  # each score is the cosine of the id it comes with
            assert m.score == pytest.approx(reference[int(m.id)], abs=1e-5)
    finally:
        store.delete_all(namespace)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    directions=st.lists(st.lists(st.floats(-1, 1), min_size=DIM, max_size=DIM).filter(lambda v: max(map(abs, v)) > 0.1),
                        min_size=1, max_size=12),
    query=st.lists(st.floats(-1, 1), min_size=DIM, max_size=DIM),
    scale=scales,
    poison=st.one_of(st.none(), st.sampled_from([math.nan, math.inf, -math.inf])),
    top_k=st.integers(1, 15),
)
def test_cosine_query_scores_are_finite_and_exact_at_any_scale(stores, directions, query, scale, poison, top_k):
    """Whatever the query's scale (1e-45 to 1e38 per value), scores are the float64 cosines;
    a NaN or infinite query is refused, never answered."""
    _check_query(stores["local", "cosine"], directions, query, scale, poison, top_k)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    directions=st.lists(st.lists(st.floats(-1, 1), min_size=DIM, max_size=DIM).filter(lambda v: max(map(abs, v)) > 0.1),
                        min_size=1, max_size=6),
    query=st.lists(st.floats(-1, 1), min_size=DIM, max_size=DIM),
    scale=scales,
    poison=st.one_of(st.none(), st.sampled_from([math.nan, math.inf])),
    top_k=st.integers(1, 8),
)
def test_cosine_query_on_pinecone_agrees(stores, directions, query, scale, poison, top_k):
    _check_query(stores["pinecone", "cosine"], directions, query, scale, poison, top_k)


# ---- metadata ------------------------------------------------------------------------------

pieces = st.text(st.characters(codec="utf-8"), min_size=1, max_size=6)  # any UTF-8 text, escapes too


@st.composite
def metadata_near_the_limit(draw):
    """1-3 text fields whose JSON size lands within a few hundred bytes of the 40 KB limit."""
    fields = draw(st.integers(1, 3))
    target = draw(st.integers(limits.MAX_METADATA_BYTES - 300, limits.MAX_METADATA_BYTES + 300))
    meta = {}
    for index in range(fields):
        piece = draw(pieces)
        share = target // fields
        meta[f"f{index}"] = piece * max(1, share // len(piece.encode("utf-8")))
    return meta


def _json_bytes(meta) -> int:  # written out here rather than taken from limits.metadata_bytes
    return len(json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _check_metadata(store, meta):
    namespace = f"m{next(_namespaces)}"
    if _json_bytes(meta) > 40 * 1024:
        with pytest.raises(MetadataError, match="40,960"):
            store.upsert([("m", np.ones(DIM), meta)], namespace=namespace)
        assert store.count(namespace) == 0
        return
    store.upsert([("m", np.ones(DIM), meta)], namespace=namespace)
    assert store.fetch(["m"], namespace=namespace)["m"].metadata == meta
    store.delete_all(namespace)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meta=metadata_near_the_limit())
def test_metadata_near_40_kb(stores, meta):
    _check_metadata(stores["local", "cosine"], meta)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meta=metadata_near_the_limit())
def test_metadata_near_40_kb_on_pinecone(stores, meta):
    _check_metadata(stores["pinecone", "cosine"], meta)


wild_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**400), 10**400),
    st.integers(-(2**53) - 2, 2**53 + 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.builds(np.float32, st.floats(width=32, allow_nan=True, allow_infinity=True)),
    st.builds(np.int64, st.integers(-(2**63), 2**63 - 1)),
    st.text(max_size=5),
    st.sampled_from(["\ud800", "a\udfff", "\x00", 2**53, 2**53 + 1, -(2**53) - 1, 10**400]),
    st.lists(st.text(max_size=3), max_size=3),
    st.lists(st.one_of(st.integers(), st.text(max_size=2)), min_size=1, max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
wild_keys = st.one_of(st.text(max_size=4), st.sampled_from(["$gt", "", "\ud800"]), st.integers())


def _storable(value) -> bool:
    if isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return abs(value) <= 2**53
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_clean(meta):
    try:
        clean = clean_metadata(meta, "r")
    except MetadataError as error:
        assert "record 'r'" in str(error)
        return None
    json.dumps(clean, allow_nan=False).encode("utf-8")  # valid strict JSON, valid UTF-8
    assert _json_bytes(clean) <= limits.MAX_METADATA_BYTES
    assert all(_storable(v) for v in clean.values())
    dropped = {k for k, v in meta.items() if v is None or (isinstance(v, (float, np.floating)) and math.isnan(v))}
    assert set(clean) == set(meta) - dropped
    return clean


@settings(max_examples=300, deadline=None)
@given(value=wild_values)
def test_any_metadata_value_is_stored_as_json_or_refused_with_metadata_error(value):
    """Any value: either a MetadataError, or a value both backends store and give back."""
    clean = _check_clean({"field": value})
    if clean is not None and "field" in clean and not isinstance(value, (np.floating, float)):
        assert clean["field"] == value  # ints, strings, booleans and lists come back unchanged


@settings(max_examples=100, deadline=None)
@given(meta=st.dictionaries(wild_keys, wild_values, max_size=4))
def test_any_metadata_dict_is_stored_as_json_or_refused_with_metadata_error(meta):
    _check_clean(meta)
