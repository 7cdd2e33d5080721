"""Build the simulation world for MovieLens from the data layer and the course's candidate generator.

The lesson's pipeline itself (budgets, runs per regime, analysis, findings) is lesson-only code
and lives in ``recsys_utils/lessons/l04_experiment.py``.
"""

from __future__ import annotations

from .simulator import SimulatorConfig


def prepare_movielens_world(data, splits, config: SimulatorConfig, k: int = 10, pool_size: int = 40,
                            taste_dim: int = 16, generator=None, candidate_budget: str = "full", seed: int = 42):
    """(world, rating_model, item_vectors) for MovieLens.

    The pools and the per-candidate collaborative features come from the course's candidate
    generator (``candidates.ensure_candidate_generator``, fitted on training ratings only; built
    and cached when missing); the ground truth is a rating model fitted on all ratings (simulator
    side, see ``ground_truth``)."""
    from ..embeddings import movie_embeddings
    from ..embeddings.users import user_embeddings
    from .ground_truth import fit_rating_model
    from .world import build_world

    if pool_size < k + config.max_steps - 1:
        raise ValueError(f"pool_size={pool_size} < K + max_steps - 1 = {k + config.max_steps - 1}")
    if generator is None:
        from ..candidates import ensure_candidate_generator

        generator = ensure_candidate_generator(data, splits, seed=seed, budget=candidate_budget)
    item_vectors = movie_embeddings(data.movies)
    user_ids, taste = user_embeddings(splits.train_ratings, data.movies, item_vectors)
    rating_model = fit_rating_model(data.ratings)  # all ratings: see ground_truth's docstring
    world = build_world(
        data.movies, splits.train_ratings, item_vectors, taste, user_ids, generator,
        {"train": splits.train_users, "val": splits.val_users, "test": splits.test_users},
        rating_model, taste_dim=taste_dim, pool_size=pool_size, window=config.boredom_window,
    )
    return world, rating_model, item_vectors
