"""Ranking metrics: textbook cases, edge cases and trec_eval (pytrec-eval-terrier) as an oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_utils import metrics

ACCURACY = metrics.ACCURACY_METRICS


def _rel(n_items: int, *rows: list[int]) -> np.ndarray:
    matrix = np.zeros((len(rows), n_items), dtype=bool)
    for u, items in enumerate(rows):
        matrix[u, items] = True
    return matrix


# --- textbook cases -------------------------------------------------------------------------


def test_textbook_values_for_one_list():
    # ranking: 0 1 2 3 4 ; relevant: {1, 3, 7} (7 is never retrieved)
    ranked = np.array([[0, 1, 2, 3, 4]])
    relevant = _rel(10, [1, 3, 7])
    k = 5
    assert metrics.precision_at_k(ranked, relevant, k)[0] == pytest.approx(2 / 5)
    assert metrics.recall_at_k(ranked, relevant, k)[0] == pytest.approx(2 / 3)
    assert metrics.mrr_at_k(ranked, relevant, k)[0] == pytest.approx(1 / 2)
    assert metrics.hit_rate_at_k(ranked, relevant, k)[0] == 1.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg_at_k(ranked, relevant, k)[0] == pytest.approx(dcg / idcg)
    ap = (1 / 2 + 2 / 4) / 3
    assert metrics.average_precision_at_k(ranked, relevant, k)[0] == pytest.approx(ap)


def test_perfect_ranking_scores_one():
    ranked = np.array([[3, 1, 2, 0, 4], [7, 8, 9, 0, 1]])
    relevant = _rel(10, [3, 1], [7, 8, 9, 0, 1, 2])  # second user has more relevant items than k
    k = 5
    for name in ("ndcg", "mrr", "hit_rate"):
        np.testing.assert_allclose(ACCURACY[name](ranked, relevant, k), [1.0, 1.0], err_msg=name)
    # precision of a perfect list is min(k, |rel|) / k; recall is min(k, |rel|) / |rel|
    np.testing.assert_allclose(metrics.precision_at_k(ranked, relevant, k), [2 / 5, 1.0])
    np.testing.assert_allclose(metrics.recall_at_k(ranked, relevant, k), [1.0, 5 / 6])


def test_no_hits_scores_zero():
    ranked = np.array([[0, 1, 2]])
    relevant = _rel(6, [4, 5])
    for name, metric in ACCURACY.items():
        assert metric(ranked, relevant, 3)[0] == 0.0, name


def test_user_without_relevant_items_is_nan_and_skipped_by_the_mean():
    ranked = np.array([[0, 1, 2], [0, 1, 2]])
    relevant = _rel(6, [0], [])
    for name, metric in ACCURACY.items():
        values = metric(ranked, relevant, 3)
        assert values[0] == 1.0 or name in {"precision"}, name
        assert np.isnan(values[1]), f"{name} must mark a user without relevant items as NaN"
        assert metrics.mean_over_users(values) == pytest.approx(values[0])
    with pytest.raises(ValueError, match="no user has a defined value"):
        metrics.mean_over_users([np.nan, np.nan])


def test_padding_never_counts_as_a_hit_and_precision_divides_by_k():
    ranked = np.array([[2, -1, -1]])
    relevant = _rel(4, [2, 0])
    assert metrics.precision_at_k(ranked, relevant, 3)[0] == pytest.approx(1 / 3)
    assert metrics.recall_at_k(ranked, relevant, 3)[0] == pytest.approx(1 / 2)


def test_sparse_and_dense_relevance_agree():
    rng = np.random.default_rng(0)
    dense = rng.random((30, 50)) < 0.1
    ranked = np.argsort(-rng.random((30, 50)), axis=1)[:, :20]
    for name, metric in ACCURACY.items():
        np.testing.assert_allclose(metric(ranked, dense, 10), metric(ranked, sp.csr_matrix(dense), 10),
                                   equal_nan=True, err_msg=name)


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="2-D"):
        metrics.ndcg_at_k(np.array([1, 2, 3]), _rel(5, [1]), 2)
    with pytest.raises(ValueError, match="only 2 positions"):
        metrics.ndcg_at_k(np.array([[1, 2]]), _rel(5, [1]), 5)
    with pytest.raises(ValueError, match="users"):
        metrics.ndcg_at_k(np.array([[1, 2]]), _rel(5, [1], [2]), 2)
    with pytest.raises(ValueError, match="item index 9"):
        metrics.ndcg_at_k(np.array([[9, 2]]), _rel(5, [1]), 2)
    with pytest.raises(TypeError, match="integer"):
        metrics.ndcg_at_k(np.array([[1.0, 2.0]]), _rel(5, [1]), 2)


# --- beyond accuracy --------------------------------------------------------------------------


def test_coverage_novelty_popularity_and_diversity():
    ranked = np.array([[0, 1], [0, 2]])
    assert metrics.catalogue_coverage(ranked, 10, 2) == pytest.approx(3 / 10)
    assert metrics.catalogue_coverage(ranked, 10, 1) == pytest.approx(1 / 10)
    pop = np.array([0.5, 0.25, 0.0, 1.0])
    np.testing.assert_allclose(metrics.popularity_at_k(ranked, pop, 2), [0.375, 0.25])
    # unrated item 2 gets the smallest positive popularity (0.25) -> 2 bits
    np.testing.assert_allclose(metrics.novelty_at_k(ranked, pop, 2), [(1 + 2) / 2, (1 + 2) / 2])
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(metrics.intra_list_diversity(ranked, vectors, 2), [1.0, 0.0], atol=1e-6)
    three = np.array([[0, 1, 3]])
    expected = np.mean([1 - 0.0, 1 - 1 / math.sqrt(2), 1 - 1 / math.sqrt(2)])
    assert metrics.intra_list_diversity(three, vectors, 3)[0] == pytest.approx(expected, rel=1e-5)
    assert np.isnan(metrics.intra_list_diversity(np.array([[0, -1]]), vectors, 2)[0])


# --- trec_eval oracle ---------------------------------------------------------------------------


def _trec_eval(ranked: np.ndarray, relevant: np.ndarray, ks: tuple[int, ...]):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels, run = {}, {}
    for u in range(ranked.shape[0]):
        rel_items = np.flatnonzero(relevant[u])
        # judge a few non-relevant items too, as real qrels do; they must not change anything
        qrels[f"u{u}"] = {f"d{j}": 1 for j in rel_items} | {f"d{j}": 0 for j in range(3) if not relevant[u, j]}
        # strictly decreasing scores: trec_eval sorts by score, so the order is exactly ours
        run[f"u{u}"] = {f"d{j}": float(ranked.shape[1] - i) for i, j in enumerate(ranked[u])}
    cut = ",".join(map(str, ks))
    measures = {f"ndcg_cut.{cut}", f"P.{cut}", f"recall.{cut}", f"map_cut.{cut}", f"success.{cut}"}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
    return evaluator.evaluate(run), pytrec_eval


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_trec_eval_on_random_rankings(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, depth = 40, 60, 25
    relevant = rng.random((n_users, n_items)) < rng.uniform(0.02, 0.3, size=(n_users, 1))
    relevant[np.flatnonzero(~relevant.any(axis=1)), 5] = True  # trec_eval ignores queries with no relevant doc
    ranked = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :depth]
    ks = (1, 5, 10, 20)
    oracle, pytrec_eval = _trec_eval(ranked, relevant, ks)
    ours = {
        "ndcg_cut": metrics.ndcg_at_k,
        "P": metrics.precision_at_k,
        "recall": metrics.recall_at_k,
        "map_cut": metrics.average_precision_at_k,
        "success": metrics.hit_rate_at_k,
    }
    for k in ks:
        for trec_name, fn in ours.items():
            expected = [oracle[f"u{u}"][f"{trec_name}_{k}"] for u in range(n_users)]
            np.testing.assert_allclose(fn(ranked, relevant, k), expected, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{trec_name}@{k}")
        # MRR@k = trec_eval's recip_rank on the list cut at k
        cut_run = {f"u{u}": {f"d{j}": float(k - i) for i, j in enumerate(ranked[u, :k])} for u in range(n_users)}
        qrels = {f"u{u}": {f"d{j}": 1 for j in np.flatnonzero(relevant[u])} for u in range(n_users)}
        rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut_run)
        np.testing.assert_allclose(metrics.mrr_at_k(ranked, relevant, k),
                                   [rr[f"u{u}"]["recip_rank"] for u in range(n_users)], err_msg=f"mrr@{k}")


def test_oracle_would_catch_an_off_by_one_discount():
    """Guard against a vacuous oracle test: nDCG discounted by log2(rank + 2) must disagree.

    (The log base alone would not do: it cancels between DCG and IDCG.)
    """
    rng = np.random.default_rng(3)
    relevant = rng.random((20, 30)) < 0.2
    relevant[:, 0] = True
    ranked = np.argsort(rng.random((20, 30)), axis=1)[:, :10]
    oracle, _ = _trec_eval(ranked, relevant, (10,))
    expected = np.array([oracle[f"u{u}"]["ndcg_cut_10"] for u in range(20)])
    hits = metrics.hits_at_k(ranked, relevant, 10)
    shifted = 1 / np.log2(np.arange(1, 11) + 2.0)
    ideal = np.array([shifted[: min(10, r)].sum() for r in relevant.sum(axis=1)])
    wrong = (hits @ shifted) / ideal
    assert not np.allclose(wrong, expected)
    np.testing.assert_allclose(metrics.ndcg_at_k(ranked, relevant, 10), expected)
