"""Movies to explain: a plain embedding retrieval from the shared movie index.

Lesson 05 is about explaining, not ranking, so it takes its recommendations from the simplest
retrieval of the course: the user's taste vector (``embeddings.user_embedding`` of the movies
they rated) queried against the movie index of lesson 02, skipping what they already rated.
Any other recommender's picks (the RL policy's, the service's) can be explained the same way:
the explainers only need a (user, movie) pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..constants import ITEM_COL, RATING_COL, USER_COL
from ..embeddings import user_embedding


def retrieve_candidates(store, ratings: pd.DataFrame, user_id: int, n: int = 3) -> list[int]:
    """The ``n`` unrated movies closest to the user's taste vector, best first."""
    if n < 1:
        raise ValueError(f"n={n}; ask for at least one candidate")
    history = ratings[ratings[USER_COL] == user_id]
    if history.empty:
        raise ValueError(f"user_id {user_id} has no ratings to build a taste vector from; pick another user")
    records = store.fetch([str(int(i)) for i in history[ITEM_COL]])
    known = history[history[ITEM_COL].astype(str).isin(records)]
    if known.empty:
        raise ValueError(
            f"none of user {user_id}'s movies is in the index {store.name!r}; rebuild it with "
            "recsys_utils.movie_index.ensure_movie_index(data)"
        )
    vectors = np.stack([records[str(int(i))].vector for i in known[ITEM_COL]])
    taste = user_embedding(vectors, known[RATING_COL].to_numpy(dtype=float))
    rated = set(history[ITEM_COL].astype(int))
    matches = store.query(taste, top_k=n + len(rated), include_metadata=False)
    return [int(m.id) for m in matches if m.id and int(m.id) not in rated][:n]
