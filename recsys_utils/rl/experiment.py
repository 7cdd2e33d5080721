"""Build the simulation world for MovieLens from the data layer and lesson 02's vector index.

The lesson's pipeline itself (budgets, runs per regime, analysis, findings) is lesson-only code
and lives in ``recsys_utils/lessons/l04_experiment.py``.
"""

from __future__ import annotations

from .simulator import SimulatorConfig


def prepare_movielens_world(data, splits, config: SimulatorConfig, k: int = 10, pool_size: int = 40,
                            taste_dim: int = 16, store=None, cf_rank: int = 8):
    """(world, rating_model, item_vectors) for MovieLens from the data layer and lesson 02's index.

    Two rating models: the ground truth (all ratings, simulator side) and the agents' own
    collaborative model (training-period ratings only, rank ``cf_rank``), whose score and item
    factors are per-candidate features for every learner and the greedy alike."""
    from ..embeddings import movie_embeddings
    from ..embeddings.users import user_embeddings
    from .ground_truth import fit_rating_model
    from .world import build_world

    if pool_size < k + config.max_steps - 1:
        raise ValueError(f"pool_size={pool_size} < K + max_steps - 1 = {k + config.max_steps - 1}")
    if store is None:
        from ..movie_index import ensure_movie_index

        store = ensure_movie_index(data)
    item_vectors = movie_embeddings(data.movies)
    user_ids, taste = user_embeddings(splits.train_ratings, data.movies, item_vectors)
    rating_model = fit_rating_model(data.ratings)  # all ratings: see ground_truth's docstring
    agent_model = fit_rating_model(splits.train_ratings, rank=cf_rank) if cf_rank else None
    world = build_world(
        data.movies, splits.train_ratings, item_vectors, taste, user_ids, store,
        {"train": splits.train_users, "val": splits.val_users, "test": splits.test_users},
        rating_model, taste_dim=taste_dim, pool_size=pool_size, window=config.boredom_window,
        agent_model=agent_model,
    )
    return world, rating_model, item_vectors
