"""Evaluation protocol, top-K selection, statistics and the outside-check split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from lesson03_synthetic import synthetic_ratings, temporal_split

from recsys_utils import baselines, evaluation, outside_check
from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL


def _frame(rows):
    return pd.DataFrame(rows, columns=[USER_COL, ITEM_COL, RATING_COL]).astype({RATING_COL: np.float32})


TRAIN = _frame([(1, 10, 5), (1, 20, 3), (2, 20, 4), (3, 30, 2)])
TEST = _frame([(1, 30, 4), (1, 40, 2), (2, 10, 5), (3, 40, 3), (9, 10, 5)])


def test_build_eval_data_indexes_protocol_matrices():
    data = evaluation.build_eval_data(TRAIN, TEST, item_ids=[10, 20, 30, 40, 50])
    assert data.n_users == 3 and data.n_items == 5  # user 9 has no training history: dropped
    assert data.relevant.toarray().astype(int).tolist() == [[0, 0, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    np.testing.assert_array_equal(data.eval_rows, [0, 1])  # user 3 liked nothing held out
    np.testing.assert_allclose(data.item_popularity, [1 / 3, 2 / 3, 1 / 3, 0, 0])
    np.testing.assert_array_equal(data.item_index([30, 99]), [2, -1])


def test_threshold_zero_marks_every_held_out_rating_but_nothing_else():
    data = evaluation.build_eval_data(TRAIN, TEST, like_threshold=0.0)
    assert data.relevant.nnz == 4  # every held-out rating of a known user, no unrated movie


def test_build_eval_data_rejects_bad_input():
    with pytest.raises(ValueError, match="not in the catalogue"):
        evaluation.build_eval_data(TRAIN, TEST, item_ids=[10, 20, 30])
    with pytest.raises(ValueError, match="twice"):
        evaluation.build_eval_data(pd.concat([TRAIN, TRAIN.iloc[:1]]), TEST)
    with pytest.raises(KeyError, match="rating"):
        evaluation.build_eval_data(TRAIN.drop(columns=RATING_COL), TEST)
    with pytest.raises(ValueError, match="nothing is relevant"):
        evaluation.build_eval_data(TRAIN, TEST, like_threshold=6)


def test_top_k_excludes_rated_breaks_ties_by_index_and_pads():
    scores = np.array([[0.9, 0.5, 0.5, 0.1], [1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
    exclude = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 1, 1]]))
    ranked = evaluation.top_k_from_scores(scores, exclude, 3)
    assert ranked.tolist() == [[1, 2, 3], [0, -1, -1]]
    assert evaluation.top_k_from_scores(scores, None, 6).tolist()[1] == [3, 2, 1, 0, -1, -1]


def test_top_k_matches_a_full_sort_on_random_scores():
    rng = np.random.default_rng(0)
    scores = rng.random((50, 300)).astype(np.float32)
    exclude = sp.random(50, 300, density=0.2, random_state=1, format="csr")
    ranked = evaluation.top_k_from_scores(scores, exclude, 20)
    masked = np.where(exclude.toarray() != 0, -np.inf, scores)
    np.testing.assert_array_equal(ranked, np.argsort(-masked, axis=1, kind="stable")[:, :20])


def test_batched_ranking_equals_one_batch_and_never_shows_rated_movies():
    ratings, movies, _ = synthetic_ratings(n_users=120, seed=2)
    data = evaluation.build_eval_data(*temporal_split(ratings), movies.movie_id)
    model = baselines.EASE(l2=20.0).fit(data.train)
    one = evaluation.rank_with_model(model, data, k=10)
    many = evaluation.rank_with_model(model, data, k=10, batch_size=7)
    np.testing.assert_array_equal(one, many)
    rated = data.train[data.eval_rows].toarray() != 0
    assert not np.take_along_axis(rated, one, axis=1).any()


def test_evaluate_ranked_columns_and_summary():
    ratings, movies, vectors = synthetic_ratings(n_users=80, seed=3)
    data = evaluation.build_eval_data(*temporal_split(ratings), movies.movie_id)
    ranked = evaluation.rank_with_model(baselines.MostPopular().fit(data.train), data)
    per_user = evaluation.evaluate_ranked(ranked, data, item_vectors=vectors)
    for column in ("ndcg@5", "recall@10", "map@20", "hit_rate@10", "mrr@10", "novelty@10", "diversity@10"):
        assert column in per_user
    assert len(per_user) == data.eval_rows.size and per_user["ndcg@10"].notna().all()
    table = evaluation.summarise({"pop": per_user}, {"pop": ranked}, data.n_items)
    # one popularity list for all, bent only by each user's already-rated movies: low coverage
    assert table.loc["pop", "coverage@10"] == pytest.approx(np.unique(ranked[:, :10]).size / data.n_items)
    assert 10 / data.n_items <= table.loc["pop", "coverage@10"] < 0.2
    with pytest.raises(ValueError, match="rows"):
        evaluation.evaluate_ranked(ranked[:3], data)


# --- statistics -------------------------------------------------------------------------------


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_more_users():
    rng = np.random.default_rng(0)
    small = rng.normal(0.3, 0.1, 100)
    mean, low, high = evaluation.bootstrap_mean_ci(small, n_resamples=1000)
    assert low < mean < high and mean == pytest.approx(small.mean())
    _, low_big, high_big = evaluation.bootstrap_mean_ci(rng.normal(0.3, 0.1, 2000), n_resamples=1000)
    assert high_big - low_big < (high - low) / 2
    assert evaluation.bootstrap_mean_ci([0.5, 0.5, np.nan, 0.5]) == (0.5, 0.5, 0.5)


def test_paired_comparison_finds_a_real_shift_and_not_a_fake_one():
    rng = np.random.default_rng(1)
    user_level = rng.uniform(0, 1, 400)  # big between-user variation shared by both systems
    a = user_level + rng.normal(0.02, 0.05, 400)
    b = user_level
    real = evaluation.paired_comparison(a, b, n_resamples=2000)
    assert real["p_value"] < 0.01 and real["ci_low"] > 0
    noise = evaluation.paired_comparison(user_level + rng.normal(0, 0.05, 400), user_level, n_resamples=2000)
    assert noise["p_value"] > 0.05 and noise["ci_low"] < 0 < noise["ci_high"]
    same = evaluation.paired_comparison(b, b)
    assert same["p_value"] == 1.0 and same["mean_diff"] == 0.0
    with pytest.raises(ValueError, match="align"):
        evaluation.paired_comparison(a, b[:10])


def test_holm_adjustment_by_hand():
    np.testing.assert_allclose(evaluation.holm_adjust([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(evaluation.holm_adjust([0.5, 0.9]), [1.0, 1.0])


def test_compare_to_reference_marks_significance():
    rng = np.random.default_rng(2)
    index = pd.Index(np.arange(300), name=USER_COL)
    base = rng.uniform(0, 1, 300)
    per_user = {
        "ref": pd.DataFrame({"ndcg@10": base}, index=index),
        "better": pd.DataFrame({"ndcg@10": base + 0.05 + rng.normal(0, 0.02, 300)}, index=index),
        "same": pd.DataFrame({"ndcg@10": base + rng.normal(0, 0.02, 300)}, index=index),
    }
    table = evaluation.compare_to_reference(per_user, "ref", "ndcg@10", n_resamples=1000)
    assert bool(table.loc["better", "significant"]) and not bool(table.loc["same", "significant"])


def test_select_on_validation_never_sees_the_test_set():
    ratings, movies, _ = synthetic_ratings(n_users=150, seed=4)
    train, _ = temporal_split(ratings)
    best, table = evaluation.select_on_validation(
        train, {"random": baselines.RandomRecommender, "ease": lambda: baselines.EASE(l2=20.0)}, movies.movie_id)
    assert best == "ease" and table["ease"] > table["random"]


def test_select_on_validation_reuses_a_score_only_for_the_same_data_and_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    ratings, movies, _ = synthetic_ratings(n_users=150, seed=4)
    train, _ = temporal_split(ratings)
    fits = []

    class Counted(baselines.EASE):
        def fit(self, train_matrix):
            fits.append(self.l2)
            return super().fit(train_matrix)

    grid = {"l2=20": lambda: Counted(l2=20.0), "l2=200": lambda: Counted(l2=200.0)}
    first = evaluation.select_on_validation(train, grid, movies.movie_id)
    again = evaluation.select_on_validation(train, grid, movies.movie_id)
    assert fits == [20.0, 200.0]  # the second search fitted nothing
    assert again[0] == first[0] and again[1].equals(first[1])
    evaluation.select_on_validation(train.iloc[1:], grid, movies.movie_id)  # other ratings: fitted again
    evaluation.select_on_validation(train, {"l2=50": lambda: Counted(l2=50.0)}, movies.movie_id)
    assert fits == [20.0, 200.0, 20.0, 200.0, 50.0]
    evaluation.select_on_validation(train, grid, movies.movie_id, cache=False)
    assert len(fits) == 7


# --- outside check --------------------------------------------------------------------------


def test_stratified_split_keeps_floor_75_percent_per_user_and_is_seeded():
    ratings, _, _ = synthetic_ratings(n_users=50, per_user=17, seed=5)
    train, test = outside_check.stratified_split(ratings, 0.75, seed=42)
    assert len(train) + len(test) == len(ratings)
    assert (train.groupby(USER_COL).size() == 12).all()  # floor(0.75 * 17)
    again, _ = outside_check.stratified_split(ratings, 0.75, seed=42)
    pd.testing.assert_frame_equal(train, again)
    other, _ = outside_check.stratified_split(ratings, 0.75, seed=7)
    assert not train.equals(other)
    with pytest.raises(ValueError, match="ratio"):
        outside_check.stratified_split(ratings, 1.5)


def test_published_protocol_counts_every_held_out_rating_as_relevant():
    ratings, _, _ = synthetic_ratings(n_users=100, seed=6)
    table = outside_check.evaluate_published_protocol(
        ratings, {"pop": baselines.MostPopular(), "ease": baselines.EASE(l2=20.0)})
    assert table.loc["ease", "n_test"] == len(ratings) - table.loc["ease", "n_train"]
    assert table.loc["ease", "n_users"] == 100
    assert table.loc["ease", "ndcg@10"] > table.loc["pop", "ndcg@10"]
    assert set(outside_check.PUBLISHED) == {"bpr", "sar"}


def test_cold_item_view_counts_only_liked_cold_pairs():
    train = sp.csr_matrix(np.array([[5, 5, 0, 0], [4, 0, 0, 0], [3, 4, 0, 0]], dtype=np.float32))
    held = sp.csr_matrix(np.array([[0, 0, 5, 0], [0, 4, 4, 0], [0, 0, 0, 5]], dtype=np.float32))
    relevant = held.copy()
    relevant.data = relevant.data >= 4
    data = evaluation.EvalData(np.arange(3), np.arange(4), train, held, relevant.astype(bool), 4.0)
    ranked = {"a": np.array([[2, 3], [2, 1], [3, 0]])}
    table = evaluation.cold_item_view(ranked, data, k=2, max_train_ratings=1, rows=np.arange(3))
    # movies 2 and 3 have no training rating (cold); movie 1 has 2 ratings (not cold)
    assert table.attrs["n_cold_movies"] == 2
    assert table.attrs["n_relevant_cold"] == 3  # (0, 2), (1, 2), (2, 3); (1, 1) is not cold
    assert table.attrs["n_relevant_cold_movies"] == 2
    assert table.loc["a", "cold_hits_per_1000_users"] == pytest.approx(1000 * 3 / 3)
