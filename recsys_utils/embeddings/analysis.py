"""Small measurements of what a movie embedding space holds (used by lesson 02)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..constants import ITEM_COL, RATING_COL, USER_COL


def measure_throughput(texts: list[str], embedder=None) -> dict[str, float]:
    """Sentences per second of a cold encode of ``texts``: the disk cache is bypassed."""
    from .encoder import Embedder

    embedder = embedder or Embedder()
    embedder._encode_uncached(texts[: embedder.batch_size])  # warm-up: the first call pays one-off setup
    start = time.perf_counter()
    embedder._encode_uncached(texts)
    seconds = time.perf_counter() - start
    return {"texts": len(texts), "seconds": seconds, "sentences_per_second": len(texts) / seconds}


def nearest_neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    """Row indices of each row's k nearest other rows by cosine (unit vectors assumed)."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    part = np.argpartition(-similarity, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(similarity, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def genre_neighbour_agreement(
    vectors: np.ndarray, genres: list[list[str]], k: int = 10, seed: int = 42
) -> dict[str, float]:
    """Share of (movie, k-nearest-neighbour) pairs with a genre in common, against random pairs.

    If the embedding held no genre information, neighbours would agree no more often than
    random pairs do; the gap is what the text encoder captured.
    """
    sets = [set(g) for g in genres]
    neighbours = nearest_neighbours(vectors, k)
    agree = np.mean([bool(sets[i] & sets[j]) for i, row in enumerate(neighbours) for j in row])
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(sets), size=(2, 20_000))
    keep = a != b
    baseline = np.mean([bool(sets[i] & sets[j]) for i, j in zip(a[keep], b[keep], strict=True)])
    return {"neighbour_genre_agreement": float(agree), "random_pair_genre_agreement": float(baseline), "k": k}


def text_vs_corating_similarity(
    vectors: np.ndarray, movies: pd.DataFrame, ratings: pd.DataFrame, top_movies: int = 300, seed: int = 42
) -> dict[str, float]:
    """Spearman correlation between text similarity and co-rating similarity of movie pairs.

    Co-rating similarity is the cosine between two movies' columns of mean-centred user
    ratings (what item-based collaborative filtering uses). Restricted to the ``top_movies``
    most-rated films so every pair has enough shared raters to mean something.
    """
    counts = ratings[ITEM_COL].value_counts()
    chosen = counts.index[:top_movies].to_numpy()
    row_of = pd.Series(np.arange(len(movies)), index=movies[ITEM_COL].to_numpy())
    subset = ratings[ratings[ITEM_COL].isin(chosen)]
    users, user_rows = np.unique(subset[USER_COL].to_numpy(), return_inverse=True)
    item_pos = pd.Series(np.arange(len(chosen)), index=chosen)[subset[ITEM_COL].to_numpy()].to_numpy()
    centred = (
        subset[RATING_COL].to_numpy(dtype=float)
        - subset.groupby(USER_COL)[RATING_COL].transform("mean").to_numpy()
    )
    matrix = sparse.csr_matrix((centred, (user_rows, item_pos)), shape=(len(users), len(chosen))).T.tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    corating = np.asarray((matrix @ matrix.T).todense()) / np.outer(norms, norms)
    text = vectors[row_of[chosen].to_numpy()]
    text_similarity = text @ text.T
    upper = np.triu_indices(len(chosen), k=1)
    a, b = text_similarity[upper], corating[upper]
    # Too few shared raters (a tiny catalogue, or held-out ratings only) can leave one side constant.
    rho = stats.spearmanr(a, b)[0] if np.ptp(a) > 0 and np.ptp(b) > 0 else float("nan")
    return {"spearman_text_vs_corating": float(rho), "movies": int(len(chosen)), "pairs": int(len(upper[0]))}


def project_2d(vectors: np.ndarray, method: str = "tsne", seed: int = 42) -> np.ndarray:
    """2-D coordinates for a scatter plot: PCA (fast, linear) or t-SNE (slower, keeps neighbourhoods)."""
    from sklearn.decomposition import PCA

    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(vectors)
    if method == "tsne":
        from sklearn.manifold import TSNE

        reduced = PCA(n_components=min(50, vectors.shape[1]), random_state=seed).fit_transform(vectors)
        return TSNE(
            n_components=2, metric="cosine", init="pca", perplexity=30, random_state=seed
        ).fit_transform(reduced)
    raise ValueError(f"method must be 'tsne' or 'pca', got {method!r}")


def primary_genre(genres: list[list[str]], keep: int = 8) -> list[str]:
    """Each movie's most common genre among the ``keep`` most frequent ones, else "other"."""
    frequency = pd.Series([g for gs in genres for g in gs]).value_counts()
    top = list(frequency.index[:keep])
    rank = {g: i for i, g in enumerate(top)}
    return [min((g for g in gs if g in rank), key=rank.get, default="other") for gs in genres]


def text_retrieval_metrics(item_vectors: np.ndarray, movies: pd.DataFrame, splits, k: int = 10) -> dict:
    """Text-only retrieval for every evaluated user: their profile (rating-weighted mean of the
    liked training films' vectors) against every movie they have not rated, scored on the
    temporal holdout like lesson 03 (nDCG@k, recall@k, mean popularity and catalogue coverage of
    the lists). Returns the per-user nDCG too, for paired intervals.
    """
    from .. import metrics
    from ..evaluation import build_eval_data, top_k_from_scores
    from .users import user_embeddings

    data = build_eval_data(splits.train_ratings, splits.test_ratings, movies[ITEM_COL].to_numpy())
    if not np.array_equal(data.item_ids, movies[ITEM_COL].to_numpy()):
        raise ValueError("movies must be sorted by movie_id (as load_movielens returns them)")
    rows = data.eval_rows
    user_ids, profiles = user_embeddings(splits.train_ratings, movies, item_vectors)
    profiles = profiles[np.searchsorted(user_ids, data.user_ids[rows])]
    ranked = np.vstack([
        top_k_from_scores(profiles[s : s + 512] @ np.asarray(item_vectors).T, data.train[rows[s : s + 512]], k)
        for s in range(0, rows.size, 512)
    ])
    relevant = data.relevant[rows]
    ndcg = metrics.ndcg_at_k(ranked, relevant, k)
    return {
        f"ndcg@{k}": float(np.nanmean(ndcg)),
        f"recall@{k}": float(np.nanmean(metrics.recall_at_k(ranked, relevant, k))),
        f"popularity@{k}": float(np.nanmean(metrics.popularity_at_k(ranked, data.item_popularity, k))),
        f"coverage@{k}": float(metrics.catalogue_coverage(ranked, data.n_items, k)),
        "users": int(rows.size),
        "per_user_ndcg": ndcg,
        "ranked": ranked,
    }


def retrieval_comparison(named_vectors: dict[str, np.ndarray], movies: pd.DataFrame, splits, k: int = 10,
                         n_resamples: int = 2000, seed: int = 42) -> pd.DataFrame:
    """Text-only retrieval of each vector kind beside most-popular, on the same users.

    One row per system: nDCG@k with a bootstrap interval over users, the paired difference to
    most-popular with its interval (``evaluation.paired_comparison``), recall@k, and the mean
    popularity and catalogue coverage of the lists (the long tail).
    """
    from .. import metrics
    from ..baselines import MostPopular
    from ..evaluation import bootstrap_mean_ci, build_eval_data, paired_comparison, rank_with_model

    data = build_eval_data(splits.train_ratings, splits.test_ratings, movies[ITEM_COL].to_numpy())
    rows = data.eval_rows
    popular = rank_with_model(MostPopular().fit(data.train), data, rows, k=k)
    relevant = data.relevant[rows]
    per_user = {"most_popular": (metrics.ndcg_at_k(popular, relevant, k), popular)}
    for name, vectors in named_vectors.items():
        result = text_retrieval_metrics(vectors, movies, splits, k)
        per_user[name] = (result["per_user_ndcg"], result["ranked"])
    reference = per_user["most_popular"][0]
    table = []
    for name, (ndcg, ranked) in per_user.items():
        mean, low, high = bootstrap_mean_ci(ndcg, n_resamples=n_resamples, seed=seed)
        row = {"system": name, f"ndcg@{k}": mean, "ci_low": low, "ci_high": high}
        if name != "most_popular":
            diff = paired_comparison(ndcg, reference, n_resamples=n_resamples, seed=seed)
            row.update({"diff_vs_popular": diff["mean_diff"], "diff_ci_low": diff["ci_low"],
                        "diff_ci_high": diff["ci_high"]})
        row.update({
            f"recall@{k}": float(np.nanmean(metrics.recall_at_k(ranked, relevant, k))),
            f"popularity@{k}": float(np.nanmean(metrics.popularity_at_k(ranked, data.item_popularity, k))),
            f"coverage@{k}": float(metrics.catalogue_coverage(ranked, data.n_items, k)),
        })
        table.append(row)
    return pd.DataFrame(table).set_index("system")
