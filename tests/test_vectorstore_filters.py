"""Property-based tests: the vectorised filter evaluation of the local store agrees with the
plain reference evaluator (tests/filter_reference.py) on random records and filters."""

from __future__ import annotations

import numpy as np
import pytest
from filter_reference import matches as reference_matches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys_utils.vectorstore import FilterError, limits, open_store
from recsys_utils.vectorstore.filters import MetadataColumns, filter_mask, validate_filter

WORDS = ["Drama", "Comedy", "Sci-Fi", "1", "true"]
FIELDS = ["genres", "kind", "year", "score", "flag"]

numbers = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 1.0, 2.0, -1.5]))
scalars = st.one_of(st.sampled_from(WORDS), numbers, st.booleans())

# Each field may hold any type in some records: types must never coerce into each other.
field_values = st.one_of(scalars, st.lists(st.sampled_from(WORDS), max_size=3))
records = st.lists(
    st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=5), min_size=0, max_size=25
)


def _leaf():
    field = st.sampled_from(FIELDS)
    ops = st.one_of(
        st.builds(lambda v: {"$eq": v}, scalars),
        st.builds(lambda v: {"$ne": v}, scalars),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), numbers),
        st.builds(
            lambda op, v: {op: v},
            st.sampled_from(["$in", "$nin"]),
            st.lists(st.one_of(st.sampled_from(WORDS), numbers), min_size=1, max_size=3),
        ),
        st.builds(lambda v: {"$exists": v}, st.booleans()),
    )
    combined_ops = st.lists(ops, min_size=1, max_size=2).map(
        lambda parts: {k: v for p in parts for k, v in p.items()}
    )
    return st.one_of(
        st.builds(lambda f, v: {f: v}, field, scalars),  # shorthand equality
        st.builds(lambda f, o: {f: o}, field, combined_ops),
    )


filters = st.recursive(
    _leaf(),
    lambda children: st.one_of(
        st.builds(lambda parts: {"$and": parts}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda parts: {"$or": parts}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda a, b: {**a, **b}, children, children),  # implicit AND of several keys
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(records=records, flt=filters)
def test_vectorised_filter_equals_reference(records, flt):
    validate_filter(flt)
    mask = filter_mask(flt, MetadataColumns(records))
    expected = np.array([reference_matches(r, flt) for r in records], dtype=bool)
    assert mask.tolist() == expected.tolist()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records.filter(bool), flt=filters, top_k=st.integers(1, 30))
def test_filtered_query_returns_best_admitted_records(tmp_path_factory, records, flt, top_k):
    rng = np.random.default_rng(len(records))
    vectors = rng.normal(size=(len(records), 8)).astype(np.float32)
    clean = [{k: v for k, v in r.items()} for r in records]
    store = open_store("local", name="prop", dimension=8, in_memory=True)
    store.upsert((str(i), vectors[i], clean[i]) for i in range(len(records)))
    query = rng.normal(size=8).astype(np.float32)
    got = store.query(query, top_k=top_k, filter=flt)
    admitted = [i for i, r in enumerate(clean) if reference_matches(r, flt)]
    cos = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    want = sorted(admitted, key=lambda i: -cos[i])[:top_k]
    assert [m.id for m in got] == [str(i) for i in want]


invalid_filters = st.one_of(
    st.builds(
        lambda f, op: {f: {op: 1}},
        st.sampled_from(FIELDS),
        st.sampled_from(["$regex", "$not", "$all", "eq", "$size"]),
    ),
    st.builds(
        lambda f, v: {f: {"$gt": v}},
        st.sampled_from(FIELDS),
        st.one_of(st.text(max_size=3), st.booleans(), st.none()),
    ),
    st.builds(
        lambda f, v: {f: {"$in": v}},
        st.sampled_from(FIELDS),
        st.one_of(st.just([]), st.text(max_size=3), st.integers()),
    ),
    st.builds(
        lambda f, v: {f: {"$exists": v}},
        st.sampled_from(FIELDS),
        st.one_of(st.integers(), st.text(max_size=2)),
    ),
    st.builds(
        lambda f, v: {f: v},
        st.sampled_from(FIELDS),
        st.one_of(st.lists(st.text(max_size=2), min_size=1), st.none()),
    ),
    st.builds(lambda op: {op: []}, st.sampled_from(["$and", "$or"])),
    st.builds(lambda op: {op: {"a": 1}}, st.sampled_from(["$and", "$or"])),
    st.sampled_from([{}, [], "year > 1990", 3, {"$eq": 1}, {"year": {}}]),
)


@settings(max_examples=200, deadline=None)
@given(bad=invalid_filters)
def test_invalid_filters_always_raise_filter_error(bad):
    with pytest.raises(FilterError):
        validate_filter(bad)


def test_list_field_matches_when_any_element_does():
    columns = MetadataColumns([{"genres": ["Action", "Sci-Fi"]}, {"genres": ["Drama"]}, {}])
    assert filter_mask({"genres": "Sci-Fi"}, columns).tolist() == [True, False, False]
    assert filter_mask({"genres": {"$in": ["Drama", "Western"]}}, columns).tolist() == [False, True, False]
    assert filter_mask({"genres": {"$nin": ["Action"]}}, columns).tolist() == [False, True, True]
    assert filter_mask({"$and": [{"genres": "Action"}, {"genres": "Drama"}]}, columns).tolist() == [
        False,
        False,
        False,
    ]


def test_types_do_not_coerce():
    columns = MetadataColumns([{"v": 1}, {"v": "1"}, {"v": True}, {"v": 1.0}])
    assert filter_mask({"v": 1}, columns).tolist() == [True, False, False, True]
    assert filter_mask({"v": "1"}, columns).tolist() == [False, True, False, False]
    assert filter_mask({"v": True}, columns).tolist() == [False, False, True, False]
    assert filter_mask({"v": {"$gte": 1}}, columns).tolist() == [True, False, False, True]


# ---- limits: nesting depth and number range (vectorstore/limits.py) ----------------------


@st.composite
def nested_filters(draw):
    """A leaf filter wrapped in ``depth`` levels of $and/$or (depth near the limit); some levels
    also hold a second leaf, so depth and width both vary."""
    depth = draw(st.integers(limits.MAX_FILTER_DEPTH - 3, limits.MAX_FILTER_DEPTH + 3))
    ops = draw(st.lists(st.sampled_from(["$and", "$or"]), min_size=depth, max_size=depth))
    widen = draw(st.lists(st.booleans(), min_size=depth, max_size=depth))
    flt, sibling = draw(_leaf()), draw(_leaf())
    for op, wide in zip(ops, widen, strict=True):
        flt = {op: [flt, sibling] if wide else [flt]}
    return depth, flt


@settings(max_examples=40, deadline=None)
@given(records=records, nested=nested_filters())
def test_filters_near_the_depth_limit(records, nested):
    depth, flt = nested
    if depth > limits.MAX_FILTER_DEPTH:
        with pytest.raises(FilterError, match="levels deep"):
            filter_mask(flt, MetadataColumns(records))
        return
    mask = filter_mask(flt, MetadataColumns(records))
    assert mask.tolist() == [reference_matches(r, flt) for r in records]


def _finite64(value) -> bool:
    try:
        return np.isfinite(float(value))
    except OverflowError:
        return False


any_number = st.one_of(
    st.integers(-(10**400), 10**400),
    st.integers(-(2**53) - 3, 2**53 + 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2**53, 2**53 + 1, 10**308, 2 * 10**308, 5e-324, -0.0]),
)


@settings(max_examples=150, deadline=None)
@given(
    stored=st.lists(st.one_of(st.integers(-(2**53), 2**53), st.floats(-1e300, 1e300)), max_size=10),
    op=st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"]),
    operand=any_number,
)
def test_filter_numbers_of_any_magnitude(stored, op, operand):
    """A number no float64 holds is a FilterError (never OverflowError); any other number
    compares as Pinecone compares, as a 64-bit float."""
    rows = [{"n": value} for value in stored]
    flt = {"n": {op: [operand] if op in ("$in", "$nin") else operand}}
    if not _finite64(operand):
        with pytest.raises(FilterError, match="finite 64-bit"):
            filter_mask(flt, MetadataColumns(rows))
        return
    assert filter_mask(flt, MetadataColumns(rows)).tolist() == [reference_matches(r, flt) for r in rows]
