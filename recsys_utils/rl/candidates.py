"""Per-user candidate pools retrieved from the vector store for the user's taste embedding.

The agent does not choose among all movies: like a production two-stage recommender, retrieval
proposes a pool (the nearest movies to the user's taste in the MiniLM space) and the policy
re-ranks it. Movies the user already rated are removed (``candidates.unseen_top``, the course's one
seen-movie exclusion) so the simulator never re-recommends something the person has seen.
"""

from __future__ import annotations

import numpy as np


def retrieve_candidate_pools(
    store,
    taste_vectors: np.ndarray,
    seen: np.ndarray,
    catalog_movie_ids: np.ndarray,
    pool_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (pool_items (n, pool_size) catalogue positions, pool_similarity (n, pool_size)).

    ``store`` is anything with ``query_many(vectors, top_k, filter=None) -> (ids, scores)``
    (the course's vector store); ``seen`` is the (n, m) bool matrix of already-rated movies,
    aligned with ``catalog_movie_ids``. Pools come back ordered by similarity, best first.
    """
    from ..candidates.generator import unseen_top

    taste_vectors = np.asarray(taste_vectors, dtype=np.float32)
    n, m = seen.shape
    if len(taste_vectors) != n:
        raise ValueError(f"{len(taste_vectors)} taste vectors but {n} rows of seen items")
    most_seen = int(seen.sum(axis=1).max()) if n else 0
    if m - most_seen < pool_size:
        raise ValueError(
            f"pool_size={pool_size} is too large: a user has rated {most_seen} of {m} movies; "
            "lower pool_size or the number of steps/candidates"
        )
    # The course's one seen-movie exclusion (bounded windows, then $nin), as the generator uses it.
    found = unseen_top(store, taste_vectors, [catalog_movie_ids[row] for row in seen], pool_size)
    pool_items = np.empty((n, pool_size), dtype=np.int64)
    pool_similarity = np.empty((n, pool_size), dtype=np.float32)
    for i, (ids, scores) in enumerate(found):
        pos = np.clip(np.searchsorted(catalog_movie_ids, ids), 0, m - 1)
        if (catalog_movie_ids[pos] != ids).any():
            raise KeyError("the vector store returned movie ids missing from the catalogue; rebuild the index")
        if ids.size < pool_size:
            raise ValueError(f"the store returned {ids.size} unseen movies for a pool of {pool_size}; rebuild the index")
        pool_items[i], pool_similarity[i] = pos, scores
    return pool_items, pool_similarity
