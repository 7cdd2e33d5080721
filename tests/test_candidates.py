"""The one candidate generator on planted data: CF-exact rankings through a dotproduct index,
exclusion of seen movies within Pinecone's limits, filters, cold start, title matching, the
cache, and the same answers through the real Pinecone SDK against the loopback stand-in.
Every test here runs in well under a second except the stand-in one (about 2 s)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from lesson03_synthetic import synthetic_ratings, temporal_split

from recsys_utils import evaluation
from recsys_utils.candidates import (
    MAX_TOP_K,
    Candidates,
    TitleIndex,
    build_generator,
    exclusion_filter,
    fit_cf_vectors,
    fold_title,
)
from recsys_utils.candidates import build as build_module
from recsys_utils.candidates.build import _memory_stores, index_records
from recsys_utils.candidates.generator import unseen_top
from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL
from recsys_utils.vectorstore import open_store

GENRES = ["Action", "Comedy", "Drama", "Sci-Fi", "Thriller"]


def _movies(n_items: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    _, movies, _ = synthetic_ratings(n_users=2, n_items=n_items, seed=seed)
    movies["genres"] = [sorted(set(rng.choice(GENRES, size=rng.integers(1, 3)).tolist())) for _ in range(n_items)]
    movies["year"] = rng.integers(1960, 2020, size=n_items)
    return movies


@pytest.fixture(scope="module")
def world():
    ratings, movies, vectors = synthetic_ratings(n_users=120, n_items=150, per_user=30, seed=11)
    extra = _movies(150)
    movies["genres"], movies["year"] = extra["genres"], extra["year"]
    train, test = temporal_split(ratings)
    data = evaluation.build_eval_data(train, test, movies.movie_id)
    cf = fit_cf_vectors(data.train, data.user_ids, factors=16, regularization=1.0, iterations=8, seed=0)
    cf_store, text_store = _memory_stores(movies, cf, vectors)
    gen = build_generator(movies, train, vectors, cf, cf_store, text_store, text_weight=0.0, cold_text_weight=0.0)
    return movies, vectors, train, data, cf, gen


def _cf_topk(cf, data, rows, k):
    scores = cf.user_factors[rows] @ cf.item_factors.T
    return evaluation.top_k_from_scores(scores, data.train[rows], k)


def test_known_user_ranking_equals_the_cf_model(world):
    movies, _, _, data, cf, gen = world
    rows = np.arange(data.n_users)
    lists = gen.for_users(data.user_ids[rows], 10)
    expected = _cf_topk(cf, data, rows, 10)
    got = np.array([np.searchsorted(data.item_ids, c.movie_ids) for c in lists])
    # Same movies in the same order, up to float ties (compare the CF scores of both lists).
    exact = cf.user_factors[rows, None, :] @ cf.item_factors.T
    ref_scores = np.take_along_axis(exact[:, 0, :], expected, axis=1)
    got_scores = np.take_along_axis(exact[:, 0, :], got, axis=1)
    np.testing.assert_allclose(got_scores, ref_scores, rtol=1e-5, atol=1e-6)
    assert (got == expected).mean() > 0.99
    assert all(np.all(np.diff(c.scores) <= 1e-6) for c in lists), "scores not best first"


def test_seen_movies_never_come_back(world):
    _, _, train, data, _, gen = world
    for user_id, cands in zip(data.user_ids, gen.for_users(data.user_ids, 40), strict=True):
        seen = train.loc[train[USER_COL] == user_id, ITEM_COL].to_numpy()
        assert len(cands) == 40
        assert not np.isin(cands.movie_ids, seen).any()
        assert np.unique(cands.movie_ids).size == 40


class _Recording:
    """Wraps a store and records each query's top_k and filter."""

    def __init__(self, store):
        self.store, self.calls = store, []

    def query_many(self, vectors, top_k, filter=None, namespace=""):
        self.calls.append((len(vectors), top_k, filter))
        return self.store.query_many(vectors, top_k=top_k, filter=filter, namespace=namespace)


def _line_store(n: int):
    """n movies on a line: a query of (0, 1) ranks them in catalogue order."""
    movies = _movies(n)
    vectors = np.stack([np.ones(n), np.linspace(1, -1, n)], axis=1).astype(np.float32)
    store = open_store("local", name="heavy", dimension=2, metric="dotproduct", in_memory=True)
    store.upsert(index_records(movies, vectors))
    return movies.movie_id.to_numpy(), _Recording(store)


def test_a_user_with_many_ratings_is_served_by_one_bounded_query(world):
    gen = world[-1]
    ids, recording = _line_store(1200)
    seen = ids[:600]  # the query's 600 best are seen: a window of 2k + 50 would hold none unseen
    got = gen._retrieve(recording, np.array([[0.0, 1.0]], np.float32), [seen], 5, None)[0]
    assert got.tolist() == ids[600:605].tolist()
    assert [(top_k, f) for _, top_k, f in recording.calls] == [(2 * 5 + 50 + 600, None)]


def test_heavy_user_is_served_by_nin_filters_not_by_fetching_everything(world):
    from recsys_utils.candidates.generator import MAX_OVERFETCH

    gen = world[-1]
    ids, recording = _line_store(2400)
    seen = ids[:1600]  # more seen than the over-fetch covers: the first window holds none unseen
    got = gen._retrieve(recording, np.array([[0.0, 1.0]], np.float32), [seen], 5, None)[0]
    assert got.tolist() == ids[1600:1605].tolist()
    assert recording.calls[0][1] == 2 * 5 + 50 + MAX_OVERFETCH and recording.calls[0][2] is None
    nins = [f for _, _, f in recording.calls if f is not None]
    assert nins and all(len(f["movie_id"]["$nin"]) <= 1000 for f in nins)


def test_the_embedded_stores_own_exclusion_gives_the_over_fetched_answer():
    """unseen_top asks the embedded store once (query_many_int_excluding) and Pinecone-like stores
    by over-fetching and $nin: the same unseen lists and scores, heavy users included."""
    ids, recording = _line_store(2400)
    rng = np.random.default_rng(3)
    queries = np.array([[0.0, 1.0], [0.3, -1.0], [1.0, 0.2]], np.float32)
    seen = [ids[:1600], np.sort(rng.choice(ids, 300, replace=False)), np.empty(0, np.int64)]
    for n, flt in ((5, None), (120, None), (40, {"year": {"$gte": 1990}})):
        native = unseen_top(recording.store, queries, seen, n, flt)
        fetched = unseen_top(recording, queries, seen, n, flt)
        assert not recording.calls or all(c[1] > n for c in recording.calls)  # the wrapper over-fetched
        recording.calls.clear()
        for (got, got_scores), (want, want_scores) in zip(native, fetched, strict=True):
            assert got.tolist() == want.tolist()
            np.testing.assert_allclose(got_scores, want_scores, atol=1e-6)


def test_exclusion_filter_combines_with_user_filters():
    assert exclusion_filter(None, []) is None
    assert exclusion_filter(None, [3, 1]) == {"movie_id": {"$nin": [3, 1]}}
    year = {"year": {"$gte": 2000}}
    assert exclusion_filter(year, [2]) == {"$and": [year, {"movie_id": {"$nin": [2]}}]}


def test_filters_go_to_the_store(world):
    movies, _, _, data, _, gen = world
    flt = {"genres": {"$in": ["Sci-Fi"]}, "year": {"$gte": 1990}}
    allowed = set(movies.loc[movies.genres.map(lambda g: "Sci-Fi" in g) & (movies.year >= 1990), ITEM_COL])
    for cands in gen.for_users(data.user_ids[:20], 10, filters=flt):
        assert len(cands) > 0 and set(cands.movie_ids.tolist()) <= allowed
    cold = gen.for_profile([int(movies.movie_id[0])], k=10, filters=flt)
    assert set(cold.movie_ids.tolist()) <= allowed


def test_the_linear_fold_in_at_alpha_one_equals_the_solve(world):
    """alpha = 1 takes the precomputed-inverse path; it must equal the general solve."""
    from dataclasses import replace

    _, _, _, _, cf, _ = world
    liked = np.array([3, 10, 42, 77])
    fast = replace(cf, alpha=1.0, _gram=None, _gram_inverse=None)
    general = replace(cf, alpha=1.0 + 1e-12, _gram=None, _gram_inverse=None)  # any alpha != 1 solves
    assert fast._gram_inverse is None
    np.testing.assert_allclose(fast.fold_in(liked), general.fold_in(liked), rtol=1e-5, atol=1e-6)
    assert fast._gram_inverse is not None and general._gram_inverse is None


def test_fold_in_is_the_als_user_step(world):
    _, _, _, data, cf, _ = world
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(factors=cf.dimension, regularization=cf.regularization, alpha=cf.alpha)
    model.item_factors = cf.item_factors.astype(np.float32)
    model.user_factors = np.zeros((1, cf.dimension), np.float32)
    liked = np.array([3, 10, 42])
    user_items = sp.csr_matrix((np.ones(3, np.float32), ([0, 0, 0], liked)), shape=(1, data.n_items))
    np.testing.assert_allclose(cf.fold_in(liked), np.ravel(model.recalculate_user(0, user_items)), rtol=1e-3, atol=1e-4)


def test_cold_start_profile_excludes_liked_and_follows_taste(world):
    movies, vectors, train, data, cf, gen = world
    group = movies.title.str.extract(r"group (\d+)")[0].astype(int).to_numpy()
    liked = movies.movie_id.to_numpy()[group == 2][:4]
    cands = gen.for_profile(liked_movie_ids=liked, k=10, exclude=[int(liked[0]) + 1000])
    assert len(cands) == 10 and not np.isin(cands.movie_ids, liked).any()
    share_same_group = (group[np.searchsorted(movies.movie_id, cands.movie_ids)] == 2).mean()
    assert share_same_group >= 0.6
    with pytest.raises(ValueError, match="liked_movie_ids or a wish"):
        gen.for_profile()
    with pytest.raises(KeyError, match="not in the catalogue"):
        gen.for_profile([999_999])
    with pytest.raises(KeyError, match="for_profile"):
        gen.for_user(999_999, 5)


def _history(train, user_id):
    mine = train.loc[train[USER_COL] == user_id]
    return mine[ITEM_COL].to_numpy(np.int64), mine[RATING_COL].to_numpy(np.float64)


@pytest.mark.parametrize(("text_weight", "pool_text_weight"), [(0.0, None), (0.5, None), (0.5, 0.2)])
def test_user_update_without_new_movies_is_the_known_user_query(world, text_weight, pool_text_weight):
    """The online update starts where for_user stands: same ids, same scores (two bands included)."""
    movies, vectors, train, data, cf, _ = world
    cf_store, text_store = _memory_stores(movies, cf, vectors)
    gen = build_generator(movies, train, vectors, cf, cf_store, text_store, text_weight=text_weight,
                          pool_text_weight=pool_text_weight)
    for user_id in data.user_ids[:25]:
        ids, stars = _history(train, int(user_id))
        before, same = gen.for_user(int(user_id), 20), gen.for_user_update(int(user_id), ids, stars, 20)
        np.testing.assert_array_equal(same.movie_ids, before.movie_ids)
        np.testing.assert_allclose(same.scores, before.scores, rtol=1e-5, atol=1e-5)


def test_user_update_follows_the_new_likes_and_excludes_them(world):
    movies, vectors, train, data, cf, _ = world
    cf_store, text_store = _memory_stores(movies, cf, vectors)
    gen = build_generator(movies, train, vectors, cf, cf_store, text_store, text_weight=0.5)
    group = movies.title.str.extract(r"group (\d+)")[0].astype(int).to_numpy()
    user_id = int(data.user_ids[0])
    ids, stars = _history(train, user_id)
    groups_rated = group[np.searchsorted(movies.movie_id, ids)]
    target = int(np.bincount(groups_rated, minlength=group.max() + 1)[np.unique(group)].argmin())
    target = int(np.unique(group)[target])  # the planted group this user rated least
    added = np.setdiff1d(movies.movie_id.to_numpy()[group == target], ids)[:8]
    share = lambda c: (group[np.searchsorted(movies.movie_id, c.movie_ids)] == target).mean()  # noqa: E731
    before = gen.for_user(user_id, 10)
    after = gen.for_user_update(user_id, np.r_[ids, added], np.r_[stars, np.full(added.size, 5.0)], 10,
                                exclude=[int(before.movie_ids[0])])
    assert not np.isin(after.movie_ids, np.r_[ids, added, before.movie_ids[:1]]).any()
    assert share(after) > share(before)
    with pytest.raises(ValueError, match="one rating per history movie"):
        gen.for_user_update(user_id, ids, stars[:-1], 10)
    with pytest.raises(KeyError, match="no training ratings"):
        gen.for_user_update(999_999, ids, stars, 10)


class _TopKOnly:
    """A store with only the top_k queries (as Pinecone has): the generator takes its general path."""

    def __init__(self, store):
        self.store = store
        self.name = store.name

    def query_many_int_excluding(self, *args, **kwargs):
        return self.store.query_many_int_excluding(*args, **kwargs)


def test_the_online_update_from_every_exact_score_equals_the_top_k_path(world):
    """With two embedded stores, for_user_update's two bands come from one mat-vec per index
    (``scores_by_int_id``): the same lists and scores as the general path's two top_k queries and
    the re-scored union, for light and heavy histories, consumed movies, and movies only the text
    index holds. Filters and lists within the head take the general path."""
    from dataclasses import replace

    movies, vectors, train, data, cf, _ = world
    factors = cf.item_factors.copy()
    factors[::4] = 0.0  # as for movies nobody rated in training: the CF index leaves them out
    cf = replace(cf, item_factors=factors, _gram=None, _gram_inverse=None, _unit=None)
    cf_store, text_store = _memory_stores(movies, cf, vectors)
    unrated = movies.movie_id.to_numpy()[::4]
    assert cf_store.count() == len(movies) - unrated.size
    kwargs = {"text_weight": 0.5, "pool_text_weight": 0.2}
    exact = build_generator(movies, train, vectors, cf, cf_store, text_store, **kwargs)
    general = build_generator(movies, train, vectors, cf, _TopKOnly(cf_store), _TopKOnly(text_store), **kwargs)
    rng = np.random.default_rng(5)
    all_ids = movies.movie_id.to_numpy()
    holds_unrated = []
    for user_id in data.user_ids[:40]:
        ids, stars = _history(train, int(user_id))
        added = rng.choice(np.setdiff1d(all_ids, ids), size=int(rng.integers(1, 60)), replace=False)
        history, ratings = np.r_[ids, added], np.r_[stars, rng.choice([4.0, 5.0], added.size)]
        consumed = rng.choice(all_ids, 5, replace=False)
        for k in (20, 60):
            got = exact.for_user_update(int(user_id), history, ratings, k, exclude=consumed)
            want = general.for_user_update(int(user_id), history, ratings, k, exclude=consumed)
            np.testing.assert_array_equal(got.movie_ids, want.movie_ids)
            np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5, atol=1e-5)
            assert not np.isin(got.movie_ids, np.r_[history, consumed]).any()
            holds_unrated.append(np.isin(got.movie_ids, unrated).any())
    assert any(holds_unrated)  # some lists hold a movie the CF index lacks, scored 0 there as _score_pool does
    calls = []
    exact.cf_store = type("Spy", (), {"scores_by_int_id": lambda self, *a: calls.append(a) or None,
                                      "query_many_int_excluding": cf_store.query_many_int_excluding,
                                      "name": "spy"})()
    ids, stars = _history(train, int(data.user_ids[0]))
    exact.for_user_update(int(data.user_ids[0]), ids, stars, 20, filters={"year": {"$gte": 1990}})
    exact.for_user_update(int(data.user_ids[0]), ids, stars, 10)
    assert not calls  # a filter, or a list within the head: the general path
    exact.cf_store = cf_store


@pytest.fixture(scope="module")
def neighbour_store(world):
    movies, _, _, _, cf, _ = world
    return build_module.ensure_cf_index(movies, cf, backend="local", in_memory=True, metric="cosine")


def test_neighbour_index_ranks_by_summed_cosine_to_the_liked_titles(world, neighbour_store):
    movies, _, _, _, cf, _ = world
    assert neighbour_store.metric == "cosine" and neighbour_store.count() == cf.known_items.size
    liked_rows = np.array([3, 10, 42])
    norms = np.linalg.norm(cf.item_factors, axis=1, keepdims=True)
    unit = np.where(norms > 0, cf.item_factors / np.maximum(norms, 1e-30), 0.0)
    exact = (unit @ unit[liked_rows].T).sum(axis=1)
    exact[liked_rows] = -np.inf
    expected = movies.movie_id.to_numpy()[np.argsort(-exact, kind="stable")[:10]]
    ((ids, _),) = unseen_top(neighbour_store, cf.neighbour_query(liked_rows)[None, :],
                             [movies.movie_id.to_numpy()[liked_rows]], 10)
    np.testing.assert_array_equal(ids, expected)


def test_one_liked_title_is_answered_with_its_neighbours_not_the_popular_fold_in(world, neighbour_store):
    """A fold-in of one title leans on the popular movies; its cosine neighbours are the films the
    same people rated (planted here as the title's group)."""
    movies, vectors, train, _, cf, gen = world
    group = movies.title.str.extract(r"group (\d+)")[0].astype(int).to_numpy()
    counts = train.movie_id.value_counts().reindex(movies.movie_id).fillna(0).to_numpy()
    titles = movies.movie_id.to_numpy()[counts >= 3]
    neighbours = build_generator(movies, train, vectors, cf, gen.cf_store, gen.text_store, neighbour_store=neighbour_store,
                                 single_text_weight=0.0, single_neighbour_share=1.0)

    def same_group_and_popularity(generator):
        share, median_count = [], []
        for m in titles:
            rows = np.searchsorted(movies.movie_id, generator.for_profile([int(m)], k=10).movie_ids)
            share.append((group[rows] == group[np.searchsorted(movies.movie_id, m)]).mean())
            median_count.append(np.median(counts[rows]))
        return np.mean(share), np.mean(median_count)

    fold_share, fold_count = same_group_and_popularity(gen)  # neighbour share 0: the fold-in alone
    nbr_share, nbr_count = same_group_and_popularity(neighbours)
    assert nbr_share >= 0.9 and nbr_share >= fold_share + 0.1
    assert nbr_count < fold_count
    # several titles keep the multi-title choice (share 0 here): the same list as without the index
    liked = movies.movie_id.to_numpy()[:3]
    np.testing.assert_array_equal(neighbours.for_profile(liked, k=10).movie_ids, gen.for_profile(liked, k=10).movie_ids)


def test_validation_fusion_matches_what_the_generator_serves(world, neighbour_store):
    """select_fusion scores every (w, ν, β) from one pool per profile; at ν = 0 that must be the
    list a generator without the neighbour index returns, and the cached z-scores must give the
    same list as fuse."""
    from recsys_utils.candidates.generator import _without_neighbours, fuse_zscores, zscore_parts

    movies, vectors, train, _, cf, gen = world
    with_nbr = build_generator(movies, train, vectors, cf, gen.cf_store, gen.text_store, neighbour_store=neighbour_store)
    liked = movies.movie_id.to_numpy()[[5, 17, 60, 90]]
    rows = np.searchsorted(movies.movie_id, liked)
    text = vectors[rows].mean(axis=0)
    text /= np.linalg.norm(text)
    full = with_nbr._pool(cf.fold_in(rows), text, liked, 10, None, 0.5, cf.neighbour_query(rows))
    plain = gen._pool(cf.fold_in(rows), text, liked, 10, None, 0.5)
    assert full["movie_ids"].size > plain["movie_ids"].size  # the neighbour list adds movies
    np.testing.assert_array_equal(_without_neighbours(full)["movie_ids"], plain["movie_ids"])
    parts = zscore_parts(full)
    for w in (0.0, 0.3, 1.0):
        for beta in (0.0, 1.0):
            a, b = gen.fuse(full, w, 10, beta, 0.0), gen.fuse(plain, w, 10, beta)
            np.testing.assert_array_equal(a.movie_ids, b.movie_ids)
            for share in (0.5, 1.0):
                a, b = gen.fuse(full, w, 10, beta, share), fuse_zscores(full, parts, w, 10, beta, share)
                np.testing.assert_array_equal(a.movie_ids, b.movie_ids)
    served = with_nbr.for_profile(liked, k=10, text_weight=0.3, neighbour_share=0.5)
    np.testing.assert_array_equal(served.movie_ids, gen.fuse(full, 0.3, 10, 0.0, 0.5).movie_ids)
    with pytest.raises(ValueError, match="neighbour_store"):
        build_generator(movies, train, vectors, cf, gen.cf_store, gen.text_store, single_neighbour_share=0.5)
    with pytest.raises(ValueError, match="neighbour"):
        gen.for_profile(liked, k=10, neighbour_share=0.5)


def test_wish_only_profile_uses_the_text_index(world):
    movies, vectors, train, data, cf, gen = world
    gen.encode = lambda texts: vectors[[7]]  # the wish "means" movie 8's text vector
    try:  # (a wish naming a title would make it a liked film: see test_candidates_wish.py)
        cands = gen.for_profile(wish="something for tonight", k=5)
    finally:
        gen.encode = None
    assert cands.movie_ids[0] == movies.movie_id[7]


def test_titles_matched_like_movie_search():
    index = TitleIndex([1, 2, 3, 4], ["Amélie (2001)", "Star Wars", "Star Wars: Episode I (1999)", "Wars"],
                       [5, 10, 50, 1])
    assert fold_title("Amélie (2001)") == "amelie 2001"
    assert index.search("amelie") == [1]
    assert index.search("wars") == [4, 3, 2]  # the exact title first, then most rated
    assert index.search("STAR wars!") == [2, 3]
    assert index.search("episode star") == [3]  # every word, in any order
    assert index.match(["star wars", "AMELIE"]) == [2, 1]
    with pytest.raises(LookupError, match="Star Wars"):
        index.match(["Star Warz (1977)"])


def test_candidates_validate_and_item_vectors_align(world):
    _, vectors, _, _, cf, gen = world
    with pytest.raises(ValueError, match="scores"):
        Candidates(np.array([1, 2]), np.array([0.5]))
    assert gen.item_vectors("cf").shape == (gen.movie_ids.size, cf.dimension)
    assert np.array_equal(gen.item_vectors("text"), vectors)
    with pytest.raises(ValueError, match="'cf' or 'text'"):
        gen.item_vectors("genre")
    with pytest.raises(ValueError, match="top_k"):
        gen.for_users(gen.user_ids[:1], MAX_TOP_K + 1)


def test_fusion_weight_between_interpolates(world):
    _, _, _, data, _, gen = world
    rows = np.arange(30)
    pools = gen.pools(rows, 10, text_weight=0.5)
    cf_only = [gen.fuse(p, 0.0, 10) for p in pools]
    text_only = [gen.fuse(p, 1.0, 10) for p in pools]
    mixed = [gen.fuse(p, 0.5, 10) for p in pools]
    for pool, m in zip(pools, mixed, strict=True):
        assert set(m.movie_ids.tolist()) <= set(pool["movie_ids"].tolist())
    assert any(not np.array_equal(a.movie_ids, m.movie_ids) for a, m in zip(cf_only, mixed, strict=True))
    assert any(not np.array_equal(a.movie_ids, b.movie_ids) for a, b in zip(cf_only, text_only, strict=True))


def test_a_pool_keeps_the_top_10_and_orders_the_rest_by_the_pool_weight(world):
    """Known users' lists longer than HEAD: the first HEAD places are the top-10 list at text_weight,
    the rest the pool weight's fusion of the same pool without them; an explicit weight is one band."""
    from recsys_utils.candidates.generator import HEAD

    movies, vectors, train, data, cf, gen = world
    banded = build_generator(movies, train, vectors, cf, gen.cf_store, gen.text_store, text_weight=0.5,
                             pool_text_weight=0.0)
    users = data.user_ids[:40]
    top10 = banded.for_users(users, HEAD)
    pools = banded.for_users(users, 60)
    rows = banded._user_rows(users)
    reference = banded.pools(rows, 60, text_weight=0.5)
    moved = 0
    for short, long, pool in zip(top10, pools, reference, strict=True):
        assert len(long) == 60 and np.unique(long.movie_ids).size == 60
        np.testing.assert_array_equal(long.movie_ids[:HEAD], short.movie_ids)
        np.testing.assert_array_equal(short.movie_ids, banded.fuse(pool, 0.5, HEAD).movie_ids)
        rest = banded.fuse(pool, 0.0, 70).movie_ids  # w_pool = 0: the CF index's order
        np.testing.assert_array_equal(long.movie_ids[HEAD:], rest[~np.isin(rest, short.movie_ids)][: 60 - HEAD])
        assert np.all(np.diff(long.scores) <= 1e-6), "scores not best first"
        moved += not np.array_equal(long.movie_ids, banded.fuse(pool, 0.5, 60).movie_ids)
    assert moved > 0, "the pool weight changed no list: the test data cannot tell the bands apart"
    # an explicit text weight (the text-only path, the service's fold-ins) orders the whole list
    explicit = banded.for_users(users, 60, text_weight=0.5)
    for got, pool in zip(explicit, reference, strict=True):
        np.testing.assert_array_equal(got.movie_ids, banded.fuse(pool, 0.5, 60).movie_ids)
    with pytest.raises(ValueError, match="pool_text_weight"):
        build_generator(movies, train, vectors, cf, gen.cf_store, gen.text_store, pool_text_weight=1.5)


def test_two_z_score_bands_equal_two_fuse_calls(world):
    """fuse_banded's one-pass path (both weights strictly between 0 and 1) gives the lists and
    scores of fusing the pool twice and dropping the head from the second list."""
    from recsys_utils.candidates.generator import HEAD

    _, _, _, data, _, gen = world
    for pool in gen.pools(np.arange(40), 60, text_weight=0.5):
        got = gen.fuse_banded(pool, 0.5, 0.2, 60)
        top, rest = gen.fuse(pool, 0.5, HEAD), gen.fuse(pool, 0.2, 60 + HEAD)
        keep = ~np.isin(rest.movie_ids, top.movie_ids)
        tail_ids, tail = rest.movie_ids[keep][: 60 - HEAD], rest.scores[keep][: 60 - HEAD]
        if tail[0] > top.scores[-1]:
            tail = tail - (tail[0] - top.scores[-1])
        np.testing.assert_array_equal(got.movie_ids, np.r_[top.movie_ids, tail_ids])
        np.testing.assert_allclose(got.scores, np.r_[top.scores, tail], rtol=1e-6, atol=1e-6)


def test_pool_weight_is_chosen_by_validation_recall(world, monkeypatch):
    """select_fusion's pool weight: the banded lists' recall@100 over its text weights, kept at the
    top-10 weight unless another beats it by a standard error (recomputed here by hand)."""
    from recsys_utils import metrics
    from recsys_utils.candidates.evaluate import ranked_columns
    from recsys_utils.splits import temporal_holdout

    movies, vectors, train, _, _, _ = world
    monkeypatch.setattr(build_module, "BUDGETS", {"smoke": {"factors": (8,), "regularization": (1.0,),
                                                            "text_weights": (0.0, 0.3, 1.0),
                                                            "popularity_weights": (0.0,), "neighbour_shares": (0.0,)}})
    monkeypatch.setattr(build_module, "fit_cf_vectors", functools.partial(fit_cf_vectors, iterations=3))
    choice = build_module.select_fusion(movies, train, vectors, seed=1, budget="smoke")
    table = choice["validation_pool_text_weight_recall"]
    assert set(table) == {0.0, 0.3, 1.0} and choice["pool_depth"] == 100
    # the same figure by hand for one weight: validation fit, memory indexes, banded lists
    fit_part, validation = temporal_holdout(train, build_module.VALIDATION_FRACTION)
    vdata = evaluation.build_eval_data(fit_part, validation, movies.movie_id)
    cf = fit_cf_vectors(vdata.train, vdata.user_ids, factors=8, regularization=1.0, iterations=3, seed=1)
    cf_store, text_store = _memory_stores(movies, cf, vectors)
    gen = build_generator(movies, fit_part, vectors, cf, cf_store, text_store)
    rows = vdata.eval_rows
    pools = gen.pools(rows, 10, text_weight=0.5)
    recall = {}
    for weight in (0.0, 0.3, 1.0):
        lists = [gen.fuse_banded(p, choice["text_weight"], weight, 100) for p in pools]
        recall[weight] = metrics.recall_at_k(ranked_columns(lists, vdata.item_ids, 100), vdata.relevant[rows], 100)
        assert table[weight] == pytest.approx(float(np.nanmean(recall[weight])))
    best = max(table, key=table.get)
    diff = recall[best] - recall[choice["text_weight"]]
    diff = diff[np.isfinite(diff)]
    beats = diff.size > 1 and diff.mean() > diff.std(ddof=1) / np.sqrt(diff.size)
    assert choice["pool_text_weight"] == (best if beats else choice["text_weight"])


def test_cache_is_reused_and_rebuilt_when_the_ratings_change(world, tmp_path, monkeypatch):
    movies, vectors, train, _, _, _ = world
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(build_module, "BUDGETS", {"smoke": {"factors": (8,), "regularization": (1.0,),
                                                            "text_weights": (0.0, 0.5),
                                                            "popularity_weights": (0.0, 1.0),
                                                            "neighbour_shares": (0.0, 1.0)}})
    text_store = open_store("local", name="text", dimension=vectors.shape[1], in_memory=True)
    text_store.upsert(index_records(movies, vectors))
    monkeypatch.setattr(build_module, "_text_source", lambda *a: (text_store, vectors, None, "test"))
    # a few ALS sweeps are enough to test caching; each sweep costs thread start-ups on a busy machine
    monkeypatch.setattr(build_module, "fit_cf_vectors", functools.partial(fit_cf_vectors, iterations=3))

    class Data:
        name, checksums, movies_ = "synthetic", {"ratings": "abc"}, None

    data = Data()
    data.movies, data.ratings = movies, train

    class Splits:
        train_ratings = train

    first = build_module.ensure_candidate_generator(data, Splits, seed=1, backend="local", budget="smoke")
    second = build_module.ensure_candidate_generator(data, Splits, seed=1, backend="local", budget="smoke")
    assert (first.report["cache"], second.report["cache"]) == ("built", "loaded")
    np.testing.assert_array_equal(first.cf.item_factors, second.cf.item_factors)
    # the cold-start choices (text weight, neighbour share, single-title ones) survive the cache
    for name in ("cold_text_weight", "cold_neighbour_share", "single_text_weight", "single_neighbour_share",
                 "pool_text_weight"):
        assert getattr(first, name) == getattr(second, name)
    assert len(first.report["validation_single_ndcg"]) == 2 * 2  # text weights x neighbour shares
    assert (second.neighbour_store is None) == (max(second.cold_neighbour_share, second.single_neighbour_share) == 0)
    assert (tmp_path / "artifacts" / "candidates" / "synthetic-seed1-smoke" / "manifest.json").exists()
    Splits.train_ratings = train.iloc[:-30]
    third = build_module.ensure_candidate_generator(data, Splits, seed=1, backend="local", budget="smoke")
    assert third.report["cache"] == "built"


def test_pinecone_backend_through_the_real_sdk_gives_the_same_candidates(world, monkeypatch):
    """About 2 s: every query goes through the Pinecone SDK to the loopback stand-in."""
    from pinecone_standin import PineconeStandIn

    movies, vectors, train, data, cf, gen = world
    with PineconeStandIn(api_key="standin-key-for-tests") as standin:
        monkeypatch.setenv("PINECONE_API_KEY", "standin-key-for-tests")
        monkeypatch.setenv("PINECONE_CONTROLLER_HOST", standin.url)
        cf_store = build_module.ensure_cf_index(movies, cf, backend="pinecone")
        assert (cf_store.backend, cf_store.metric) == ("pinecone", "dotproduct")
        text_store = open_store("pinecone", name="movies-text-test", dimension=vectors.shape[1])
        text_store.upsert(index_records(movies, vectors))
        remote = build_generator(movies, train, vectors, cf, cf_store, text_store, text_weight=0.3)
        local = build_generator(movies, train, vectors, cf, gen.cf_store, gen.text_store, text_weight=0.3)
        users = data.user_ids[:5]
        flt = {"genres": {"$in": ["Drama"]}}
        for a, b in zip(remote.for_users(users, 10, flt), local.for_users(users, 10, flt), strict=True):
            np.testing.assert_array_equal(a.movie_ids, b.movie_ids)
        liked = movies.movie_id.to_numpy()[:3]
        np.testing.assert_array_equal(remote.for_profile(liked, k=10).movie_ids, local.for_profile(liked, k=10).movie_ids)


def test_paired_ratio_and_long_tail_by_hand():
    from recsys_utils.candidates.targets import long_tail_mask, paired_ratio

    a, b = np.array([0.2, 0.4, 0.0, 0.6]), np.array([0.1, 0.2, 0.1, 0.2])
    r = paired_ratio(a, b, n_resamples=400, seed=0)
    assert r["ratio"] == pytest.approx(1.2 / 0.6)
    assert r["ci_low"] <= r["ratio"] <= r["ci_high"]
    same = paired_ratio(b, b, n_resamples=200)
    assert same["ci_low"] == same["ci_high"] == pytest.approx(1.0)

    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0]], dtype=np.float32))

    class Data:
        n_items = 4

    data = Data()
    data.train = train
    # counts 3, 2, 1, 0 of 6 ratings: movie 0 alone holds half, so it is the head
    assert long_tail_mask(data).tolist() == [False, True, True, True]
