"""The one candidate generator of the course (lessons 03-06 and the service).

    from recsys_utils.candidates import ensure_candidate_generator
    gen = ensure_candidate_generator(data, splits, seed=42, backend="auto", budget="full")
    gen.for_user(user_id, k=50)                    # known user: CF + text indexes, fused
    gen.for_profile(liked_movie_ids=[...], wish="a sci-fi thriller", k=50)   # cold start: fold-in, neighbours, text
    gen.match_titles(["Star Wars"])                # typed titles -> movie ids, like /movies/search

See ``generator`` for the retrieval and fusion, ``collaborative`` for the ALS vectors and the
cold-start fold-in and liked-title neighbours, ``build`` for the validation choices, the cache and the indexes.
"""

from ..data.titles import TitleIndex, fold_title
from .build import build_generator, ensure_candidate_generator, ensure_cf_index, index_records, select_fusion
from .collaborative import CFVectors, fit_cf_vectors
from .evaluate import cold_start_profiles, most_popular_for_profiles, ranked_columns
from .generator import MAX_NIN, MAX_TOP_K, CandidateGenerator, Candidates, exclusion_filter, unseen_top

__all__ = [
    "MAX_NIN",
    "MAX_TOP_K",
    "CFVectors",
    "CandidateGenerator",
    "Candidates",
    "TitleIndex",
    "build_generator",
    "cold_start_profiles",
    "ensure_candidate_generator",
    "ensure_cf_index",
    "exclusion_filter",
    "fit_cf_vectors",
    "index_records",
    "fold_title",
    "most_popular_for_profiles",
    "ranked_columns",
    "select_fusion",
    "unseen_top",
]
