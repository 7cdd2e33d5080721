"""Outside check: our baselines under Microsoft Recommenders' MovieLens-100k benchmark protocol.

Our own numbers (lesson 03's temporal holdout, relevant = rating >= 4) cannot be compared with
anyone else's, so we also run the comparable baselines under a published protocol and put the
numbers side by side. The protocol, read from the recommenders repository
(``examples/06_benchmarks/movielens.ipynb``, ``benchmark_utils.py`` and
``recommenders/datasets/python_splitters.py``):

- split: ``python_stratified_split(ratio=0.75, filter_by="user", seed=42)``: for each user, a
  random 75% of their ratings (rank / count <= 0.75 after a seeded shuffle) train, the rest test;
- every test rating counts as a relevant interaction (no rating threshold);
- items the user rated in training are removed; only items seen in training are ranked
  (their models only know those items);
- k = 10; nDCG (binary gain), Precision, Recall averaged over the test users;
- published (repository README, "Algorithm comparison" table, MovieLens 100k):
  BPR (cornac, 200 factors, 15 epochs, lr 0.075, lambda 0.001) nDCG@10 0.441997,
  Precision@10 0.388229, Recall@10 0.212522, MAP 0.132478; SAR nDCG@10 0.382461,
  Precision@10 0.330753, Recall@10 0.176385, MAP 0.110591.

We reimplement the split (same rule and seed, but our row order and NumPy generator differ, so
the exact rows differ) rather than install ``recommenders`` and its heavy dependency tree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics
from .constants import DEFAULT_SEED, ITEM_COL, TIMESTAMP_COL, USER_COL
from .evaluation import EvalData, build_eval_data, top_k_from_scores

__all__ = ["PUBLISHED", "PUBLISHED_SOURCE", "evaluate_published_protocol", "stratified_split"]

PUBLISHED_SOURCE = (
    "github.com/recommenders-team/recommenders, README.md 'Algorithm comparison' table and "
    "examples/06_benchmarks/movielens.ipynb (MovieLens 100k, 75/25 per-user stratified random split, k=10)"
)

PUBLISHED = {
    "bpr": {"ndcg@10": 0.441997, "precision@10": 0.388229, "recall@10": 0.212522, "map": 0.132478},
    "sar": {"ndcg@10": 0.382461, "precision@10": 0.330753, "recall@10": 0.176385, "map": 0.110591},
}

# Their cornac BPR settings (benchmark notebook): 200 factors, 15 epochs, lr 0.075, lambda 0.001.
PUBLISHED_BPR_SETTINGS = {"factors": 200, "iterations": 15, "learning_rate": 0.075, "regularization": 0.001}


def stratified_split(ratings: pd.DataFrame, ratio: float = 0.75, seed: int = DEFAULT_SEED
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user random split: a user's rating goes to train when rank / count <= ``ratio``.

    Ratings are shuffled by a seeded random key within each user; rank is 1-based. Every user
    keeps floor(ratio * count) training ratings, as ``python_stratified_split`` does.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must lie strictly between 0 and 1, got {ratio}")
    if len(ratings) == 0:
        raise ValueError("ratings is empty; nothing to split")
    keyed = ratings.assign(_random=np.random.default_rng(seed).random(len(ratings)))
    keyed = keyed.sort_values([USER_COL, "_random"], kind="stable")
    rank = keyed.groupby(USER_COL).cumcount() + 1
    count = keyed.groupby(USER_COL)[ITEM_COL].transform("size")
    in_train = (rank / count) <= ratio
    keyed = keyed.drop(columns="_random")
    return keyed[in_train].reset_index(drop=True), keyed[~in_train].reset_index(drop=True)


def _rank_known_items(model, data: EvalData, rows: np.ndarray, k: int) -> np.ndarray:
    scores = model.score(rows)
    unseen_in_training = np.asarray((data.train != 0).sum(axis=0)).ravel() == 0
    scores[:, unseen_in_training] = -np.inf  # their models only rank items seen in training
    return top_k_from_scores(scores, data.train[rows], k)


def evaluate_published_protocol(ratings: pd.DataFrame, models: dict, k: int = 10, ratio: float = 0.75,
                                seed: int = DEFAULT_SEED, like_threshold: float | None = None) -> pd.DataFrame:
    """Fit each model on the stratified split and score it as the benchmark does.

    ``models`` maps a name to an unfitted ``baselines`` model. ``like_threshold=None`` is the
    published protocol (every held-out rating relevant, every training rating an interaction);
    a number keeps only ratings >= it on both sides (what the current upstream BPR wrapper does).
    Returns one row per model with nDCG, Precision, Recall and MAP at ``k``.
    """
    train, test = stratified_split(ratings.drop(columns=[TIMESTAMP_COL], errors="ignore"), ratio, seed)
    if like_threshold is not None:
        from .constants import RATING_COL

        train = train[train[RATING_COL] >= like_threshold]
        test = test[test[RATING_COL] >= like_threshold]
    # threshold 0: every held-out rating is relevant (MovieLens stars are >= 0.5)
    data = build_eval_data(train, test, like_threshold=0.0)
    rows = data.eval_rows
    relevant = data.relevant[rows]
    out = []
    for name, model in models.items():
        model.fit(data.train)
        ranked = _rank_known_items(model, data, rows, k)
        out.append({
            "system": name,
            f"ndcg@{k}": metrics.mean_over_users(metrics.ndcg_at_k(ranked, relevant, k)),
            f"precision@{k}": metrics.mean_over_users(metrics.precision_at_k(ranked, relevant, k)),
            f"recall@{k}": metrics.mean_over_users(metrics.recall_at_k(ranked, relevant, k)),
            "map": metrics.mean_over_users(metrics.average_precision_at_k(ranked, relevant, k)),
            "n_users": int(rows.size),
            "n_train": int(len(train)),
            "n_test": int(len(test)),
        })
    return pd.DataFrame(out).set_index("system")
