"""The one candidate generator: known users and cold-start profiles, through the vector indexes.

Three indexes, each with one dimension and metric as Pinecone requires:

- ``cf``: the ALS item factors (``dotproduct``). A known user's ALS factor as the query ranks
  exactly like the ALS model; a cold-start profile is folded into the same space first.
- ``cf-cos``: the same factors (``cosine``), for the liked titles' item-to-item neighbours
  (cold-start profiles only; see below).
- ``text``: the MiniLM movie vectors (``cosine``, lesson 02's index). The query is the user's
  taste profile (rating-weighted mean of liked movies), the liked titles' mean vector and/or
  the embedded wish.

Each index returns an over-fetched pool of unseen movies; the union of the two pools is
re-scored with both vectors (exact, the pool is small) and fused by weighted z-scores:

    s(j) = (1 - w) · z_cf(j) + w · z_text(j),  z = (score - mean) / std within the pool,

with the text weight w chosen on validation data carved out of training
(``build.select_fusion``). ``w = 0`` skips the text index and returns the CF index's ranking.
A known user whose clicks and likes grew their history since training (the service's online
update, ``for_user_update``) gets the same fusion (and bands, below) on the grown history: the fitted ALS factor
plus the fold-in of what was added, and the taste vector of the grown history. Why not
``for_profile`` on the whole history, as the service first did: its weights were chosen for
profiles of 1-5 titles (on ml-100k the neighbour share ν = 1 and a popularity prior), so one
like switched a returning user from the validated known-user ranking to a cold-start one, with a
third index query per request.

**A pool is judged by recall at its size, a top-10 by nDCG@10**, and the weight that is best for
one is not best for the other: the text side lifts the first places and crowds out CF candidates
further down. So a known user's list longer than ``HEAD`` (10) is built in two bands from the same
fused pool: its first ``HEAD`` movies at w (chosen by validation nDCG@10), the rest at the pool
weight w_pool (chosen by validation recall@100, one-SE rule against w_pool = w), skipping the head's
movies. The top-10 of any list is therefore the top-10 list itself. Validation (full budget),
recall@100 at w_pool against w_pool = w = 0.5: ml-latest-small 0.4565 (w_pool = 0.2) against 0.4440,
ml-100k 0.6242 (w_pool = 0.2) against 0.6129; EASE 0.4484 and ALS alone 0.4469 on ml-latest-small.
Test users (``benchmarks/bench_retrieval.py``): pool recall@100 over the best CF's, ml-latest-small
0.931 -> 0.984, ml-100k 0.972 -> 1.003; nDCG@10 unchanged by construction. While exploring, the
test figures of a single weight were also looked at (reported as such: ml-latest-small recall@100
ratio 0.973 at w = 0, 0.984 at 0.2, 0.931 at 0.5); the weights served are the validation choices.
Also measured on ml-latest-small validation and not adopted: ALS with 256 factors, 30 iterations,
α = 3 or λ = 3/30 (recall@100 0.4477, 0.4482, 0.4120, 0.3962/0.3602 against 0.4469 at 128, 15, 1, 10).

**Popularity prior** (cold-start profiles and text-only retrieval): the fusion gains a term
``+ β · z_pop(j)``, z-scored ``log(1 + training ratings of j)`` within the pool, with β chosen
on validation like w (0 is in every grid, so the prior is only used where it helped). Why:
on ml-latest-small (9,742 movies, many rated once or twice) text neighbours of a taste profile
are mostly films nobody watches: tuned text-only retrieval measured nDCG@10 0.058 against
most-popular's 0.082 on validation, and 0.089-0.108 with the prior (β 0.5-2, pool 300). The
prior is computed from *training* counts, never from the index metadata's ``rating_count``
(all ratings, test included). A text-only pool with a prior is over-fetched (``PRIOR_POOL``) so
that the prior has popular neighbours to lift.

What the prior bought, test users, ``benchmarks/bench_retrieval.py`` (intervals there):
text-only minus most-popular on ml-latest-small -0.028 -> +0.014 (β = 2), on ml-100k +0.036 ->
+0.044 (β = 0.5); the long-tail share of text-only top-10s fell (ml-latest-small 0.41 -> 0.006,
still above most-popular's 0). For cold-start profiles the one-SE rule keeps β = 0 on both
datasets (no β beat β = 0 by a standard error on validation). Also measured on ml-100k
validation and not adopted: the fold-in's confidence α in (1, 3, 10, 30) at λ = 10 (nDCG@10
0.0857, 0.0854, 0.0838, 0.0836) and λ = 3 at α = 1 (0.0824); the ALS fit's α = 1, λ = 10 stay.

**Neighbours of the liked titles** (cold-start profiles): a third index, ``cf-cos``, holds the
same ALS item factors with the ``cosine`` metric (``movies-cf-cos-<f>``; one metric per index),
queried with ``Σ_{i∈liked} y_i / ‖y_i‖``, i.e. each movie's summed cosine similarity to the
liked titles (``CFVectors.neighbour_query``). A profile's fusion becomes

    s(j) = (1 - w) · ((1 - ν) · z_cf(j) + ν · z_nbr(j)) + w · z_text(j) + β · z_pop(j),

with the neighbour share ν in (0, 0.5, 1) chosen on validation jointly with w and β (one-SE
rule against the best ν = 0, β = 0 cell), once for profiles of 3-5 titles and once for profiles
of one title (each validation user's favourite; w and ν again, at the β of the 3-5 choice).
Why a separate single-title choice: a fold-in of one title is mostly the catalogue's popularity
direction (``collaborative`` module docstring), so one title is where the neighbours differ most.
Validation nDCG@10, full budget:

- ml-100k, 3-5 titles (900 users): best without neighbours 0.0890 (w = 1, β = 0.25; 0.0879 at
  w = 0.3, β = 0), with ν = 1 0.0919 (w = 0.2, β = 0.5): adopted. One title (910 users): 0.0817
  -> 0.0896 (ν = 1, w = 0.5): adopted.
- ml-latest-small, 3-5 titles (586 users): 0.0621 (w = 0.5, ν = 0) against 0.0629 at best with
  neighbours, within a standard error: ν = 0 kept. One title (592 users): 0.0535 -> 0.0569
  (ν = 0.5, w = 0.5): adopted.

Test users (``benchmarks/bench_retrieval.py``, after the choice, intervals there): 3-5 titles,
ratio to most-popular, ml-100k 1.61 [1.37, 1.90] -> 1.61 [1.36, 1.90] and ml-latest-small 1.33
[1.07, 1.66] unchanged (the 1.5x target stays missed there); one title ml-100k 1.45 [1.21, 1.74]
-> 1.49 [1.26, 1.77], ml-latest-small 1.33 [1.05, 1.68] -> 1.38 [1.08, 1.75]; the design's
Inception fan finds Interstellar at rank 5 (7 before) on the full budget. The smoke budget's
validation keeps ν = 0 for one title on ml-latest-small (+0.0010, under a standard error), so
its Interstellar stays at rank 15.

Measured for 3-5 titles on ml-latest-small validation and not adopted (scored exactly in memory,
each against the fold-in + text fusion at w = 0.5, 0.0621; most-popular 0.0503): item-kNN
co-rating cosine (alone 0.045-0.051; as a third part of the fusion -0.001 to -0.007), raw
co-occurrence counts, SVD embeddings of degree-normalised ratings (64/256 dimensions; alone
0.048-0.054, fused -0.005 to +0.003), EASE (alone 0.046-0.049, below most-popular), an ALS fitted
on likes only (alone 0.045-0.057, as a third part +0.002 ± 0.002), user-kNN over the ALS user
factors (alone 0.052-0.058, fused -0.003 to +0.003), max- or top-50-aggregated neighbours of each
liked title, a training-count floor of 2-50 ratings on the pool (-0.003 to +0.001), pools of
30-300, reciprocal-rank fusion, a negative popularity prior (-0.0006 to -0.020), ALS λ = 30/100
(known users 0.091/0.084 against 0.110 at λ = 10) and a fold-in λ of 1-300 (0.051-0.055 against
0.0548). Nothing moved 3-5-title profiles by more than a standard error (about 0.002): on this
protocol the fold-in + text fusion is as far as these methods go. While exploring, these were
also scored on the test split (reported as such): none reached 1.5x there either (best 1.40x,
the likes-only ALS as a third part).

A free-text wish is read first (``wish.understand_wish``): its genre words become a store filter,
titles it names ("like Inception") become liked movies.

Seen movies are excluded within Pinecone's limits: one batched query of ``2k + 50`` plus a
bounded over-fetch for the seen movies (the batch's 90th-percentile seen count, at most
``MAX_OVERFETCH``; a single query's own count), at most 10,000 in all; a user whose window still
holds fewer than ``k`` unseen movies is asked again with a ``$nin`` filter on the seen movies found
so far (never more than ``MAX_NIN`` ids), until ``k`` unseen movies are found or the index is
exhausted. Nothing ever fetches "k + everything rated" without a bound. Why the over-fetch: a
window of ``2k + 50 + s`` holds at least ``2k + 50`` unseen movies for a user with ``s`` seen,
so one query serves them. Without it, 18% of ml-100k's users (more than 150 ratings) needed a
second, filtered query, which cost the service's online path ~0.5 ms each (measured there).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.titles import TitleIndex
from ..vectorstore.base import int_ids
from .collaborative import CFVectors

logger = logging.getLogger(__name__)

__all__ = ["MAX_NIN", "MAX_TOP_K", "Candidates", "CandidateGenerator", "exclusion_filter", "unseen_top"]

MAX_TOP_K = 10_000  # Pinecone's largest top_k
MAX_NIN = 1_000  # ids per $nin filter we send (far inside Pinecone's filter-size limits)
MIN_POOL = 100  # each index is asked for at least this many unseen movies, so top-10 lists do not depend on k
WISH_TEXT_WEIGHT = 0.5  # text weight when a profile carries a free-text wish (no data to tune it on)
MAX_OVERFETCH = 1_000  # extra window for seen movies; heavier users fall back to $nin
HEAD = 10  # a known user's first places follow text_weight (nDCG@10); further places pool_text_weight (recall)
PRIOR_POOL = 300  # text-only pool when a popularity prior re-ranks it (validation: 300 beat 100 on both datasets)


@dataclass(frozen=True)
class Candidates:
    """Movie ids with their fused scores, best first."""

    movie_ids: np.ndarray
    scores: np.ndarray

    def __post_init__(self):
        ids = np.asarray(self.movie_ids, dtype=np.int64).ravel()
        scores = np.asarray(self.scores, dtype=np.float32).ravel()
        if ids.shape != scores.shape:
            raise ValueError(f"{ids.size} movie ids but {scores.size} scores")
        object.__setattr__(self, "movie_ids", ids)
        object.__setattr__(self, "scores", scores)

    def __len__(self) -> int:
        return int(self.movie_ids.size)


def exclusion_filter(filters: dict | None, excluded_ids: Sequence[int]) -> dict | None:
    """``filters`` AND "movie_id not in ``excluded_ids``" (Pinecone filter syntax)."""
    excluded = [int(i) for i in excluded_ids]
    if not excluded:
        return filters
    clause = {"movie_id": {"$nin": excluded}}
    return clause if not filters else {"$and": [filters, clause]}


def _fetch_size(n: int, seen_counts: Sequence[int] = ()) -> int:
    """``2n + 50`` plus the bounded over-fetch for seen movies (module docstring)."""
    counts = sorted(seen_counts)  # the 90th percentile ("higher"); np.percentile costs 70 us per call
    extra = int(counts[int(np.ceil(0.9 * (len(counts) - 1)))]) if counts else 0
    return min(MAX_TOP_K, 2 * n + 50 + min(extra, MAX_OVERFETCH))


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _zscore(values: np.ndarray) -> np.ndarray:
    centred = values - values.mean()
    std = float(np.sqrt(np.dot(centred, centred) / max(centred.size, 1)))  # np.std's overhead is most of its cost
    return centred / (std if std > 0 else 1.0)


class CandidateGenerator:
    """See the module docstring. Built by ``ensure_candidate_generator``; tests build it directly."""

    def __init__(self, movie_ids, cf: CFVectors, text_vectors: np.ndarray, user_text_vectors: np.ndarray,
                 seen: list[np.ndarray], cf_store, text_store, titles: TitleIndex, text_weight: float = 0.0,
                 cold_text_weight: float = 0.0, encode: Callable[[list[str]], np.ndarray] | None = None,
                 report: dict | None = None, popularity: np.ndarray | None = None,
                 cold_popularity_weight: float = 0.0, text_popularity_weight: float = 0.0,
                 genres: Sequence[str] = (), neighbour_store=None, cold_neighbour_share: float = 0.0,
                 single_text_weight: float | None = None, single_neighbour_share: float = 0.0,
                 pool_text_weight: float | None = None):
        self.movie_ids = np.asarray(movie_ids, dtype=np.int64)
        if np.any(np.diff(self.movie_ids) <= 0):
            raise ValueError("movie_ids must be sorted and unique")
        n = self.movie_ids.size
        for name, array in (("cf item factors", cf.item_factors), ("text vectors", text_vectors)):
            if len(array) != n:
                raise ValueError(f"{name} have {len(array)} rows for {n} movies; align them with movie_ids")
        if len(user_text_vectors) != cf.user_ids.size or len(seen) != cf.user_ids.size:
            raise ValueError("user text vectors, seen lists and CF user factors must cover the same users")
        single_text_weight = cold_text_weight if single_text_weight is None else single_text_weight
        pool_text_weight = text_weight if pool_text_weight is None else pool_text_weight
        for name, weight in (("text_weight", text_weight), ("cold_text_weight", cold_text_weight),
                             ("pool_text_weight", pool_text_weight),
                             ("single_text_weight", single_text_weight),
                             ("cold_neighbour_share", cold_neighbour_share),
                             ("single_neighbour_share", single_neighbour_share)):
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {weight}")
        if neighbour_store is None and max(cold_neighbour_share, single_neighbour_share) > 0:
            raise ValueError("a neighbour share > 0 needs the cosine CF index (neighbour_store); "
                             "build it with candidates.ensure_cf_index(movies, cf, metric='cosine')")
        self.cf = cf
        self.text_vectors = np.asarray(text_vectors, dtype=np.float32)
        self.user_text_vectors = np.asarray(user_text_vectors, dtype=np.float32)
        self.seen = [np.asarray(s, dtype=np.int64) for s in seen]  # per user: sorted movie ids rated in training
        self.cf_store, self.text_store = cf_store, text_store
        self.titles = titles
        self.text_weight, self.cold_text_weight = float(text_weight), float(cold_text_weight)
        self.pool_text_weight = float(pool_text_weight)
        self.neighbour_store = neighbour_store
        self.cold_neighbour_share = float(cold_neighbour_share)
        self.single_text_weight = float(single_text_weight)
        self.single_neighbour_share = float(single_neighbour_share)
        self.encode = encode
        self.report = dict(report or {})
        # training ratings per movie (row-aligned); the prior reads log(1 + count)
        counts = np.zeros(n) if popularity is None else np.asarray(popularity, dtype=np.float64)
        if counts.shape != (n,):
            raise ValueError(f"popularity has shape {counts.shape} for {n} movies")
        self.popularity = counts
        self._log_popularity = np.log1p(np.maximum(counts, 0.0))
        for name, weight in (("cold_popularity_weight", cold_popularity_weight),
                             ("text_popularity_weight", text_popularity_weight)):
            if weight < 0:
                raise ValueError(f"{name} must be >= 0, got {weight}")
        self.cold_popularity_weight = float(cold_popularity_weight)
        self.text_popularity_weight = float(text_popularity_weight)
        self.genres = tuple(genres)
        self._parse_ids = CatalogueIds(self.movie_ids)
        self._user_row = {int(u): row for row, u in enumerate(cf.user_ids)}  # one user's row: a dict lookup

    # ------------------------------------------------------------------ public interface
    @property
    def user_ids(self) -> np.ndarray:
        return self.cf.user_ids

    def item_vectors(self, kind: str = "cf") -> np.ndarray:
        """``"cf"`` (ALS factors, zero rows for movies nobody rated) or ``"text"``, aligned with ``movie_ids``."""
        if kind == "cf":
            return self.cf.item_factors
        if kind == "text":
            return self.text_vectors
        raise ValueError(f"kind must be 'cf' or 'text', got {kind!r}")

    def match_titles(self, titles) -> list[int]:
        """Movie ids of typed titles, matched like ``/movies/search``; ``LookupError`` names close titles."""
        return self.titles.match(titles)

    def search_titles(self, query: str, limit: int = 10) -> list[int]:
        """``/movies/search``'s matching: movie ids whose title holds every word of ``query``."""
        return self.titles.search(query, limit)

    def for_user(self, user_id: int, k: int, filters: dict | None = None) -> Candidates:
        return self.for_users([user_id], k, filters)[0]

    def for_users(self, user_ids, k: int, filters: dict | None = None,
                  text_weight: float | None = None) -> list[Candidates]:
        """Top-``k`` unseen movies for each known user (training ratings excluded). Beyond the first
        ``HEAD`` places the fitted ``pool_text_weight`` orders the list (module docstring); an
        explicit ``text_weight`` orders all of it."""
        rows = self._user_rows(user_ids)
        fetch, size, fuse = self._known_user_fusion(text_weight, k)
        return [fuse(pool) for pool in self.pools(rows, size, filters, fetch)]

    def _known_user_fusion(self, text_weight: float | None, k: int):
        """How a known user's list is fused: (which indexes to ask, as a weight; pool size; pool -> list)."""
        weight = self.text_weight if text_weight is None else text_weight
        # text only: the text index re-ranked with the popularity prior chosen on validation
        prior = self.text_popularity_weight if weight >= 1.0 else 0.0
        if text_weight is None and prior == 0 and k > HEAD and self.pool_text_weight != weight:
            # both indexes, since the two bands' weights differ
            return 0.5, k, lambda pool: self.fuse_banded(pool, weight, self.pool_text_weight, k)
        return weight, (PRIOR_POOL if prior > 0 else k), lambda pool: self.fuse(pool, weight, k, prior)

    def for_user_update(self, user_id: int, history_movie_ids, history_ratings, k: int, exclude=(),
                        filters: dict | None = None) -> Candidates:
        """A known user whose history grew since training (the service's online update): the
        known-user query of ``for_user`` (same fusion weights, no neighbours or prior) on the grown
        history, every movie in it and in ``exclude`` left out.

        CF query: the fitted ALS factor plus the fold-in of the movies added since training. With
        α = 1 the fold-in is linear (``collaborative`` module docstring), so this is the fold-in of
        the whole grown history with the fitted factor in place of the training part's fold-in;
        with no movie added it is ``for_user``'s query exactly. Other α fold the whole history in.
        Text query: the rating-weighted taste vector of the grown history (``user_embedding``, the
        rule the training users' vectors were built with)."""
        from ..embeddings.users import user_embedding

        _check_k(k)
        row = self._user_row.get(int(user_id))
        if row is None:
            self._user_rows([user_id])  # raises the KeyError that names the user
        history = np.asarray(history_movie_ids, dtype=np.int64).ravel()
        ratings = np.asarray(history_ratings, dtype=np.float64).ravel()
        if history.size == 0 or ratings.shape != history.shape:
            raise ValueError(f"for_user_update needs one rating per history movie; got {history.size} movies and "
                             f"{ratings.size} ratings")
        history_rows = self._item_rows(history, "history_movie_ids")
        trained = self.seen[row]  # sorted
        at = np.minimum(np.searchsorted(trained, history), max(trained.size - 1, 0))
        added_rows = history_rows[trained[at] != history] if trained.size else history_rows
        if self.cf.alpha == 1.0:
            cf_query = self.cf.user_factors[row] + (self.cf.fold_in(added_rows) if added_rows.size else 0.0)
        else:
            cf_query = self.cf.fold_in(np.union1d(history_rows, self._item_rows(trained, "training history")))
        text_query = user_embedding(self.text_vectors, ratings, rows=history_rows)
        cf_query = np.asarray(cf_query, dtype=np.float32)
        exclude = np.asarray(exclude, dtype=np.int64).ravel()
        if filters is None and self._banded_zscores_apply(k):
            found = self._exact_banded(cf_query, text_query, history_rows, np.concatenate([trained, exclude]), k)
            if found is not None:
                return found
        excluded = np.unique(np.concatenate([history, trained, exclude]))
        fetch, size, fuse = self._known_user_fusion(None, k)  # as for_user
        return fuse(self._pool(cf_query, text_query, excluded, size, filters, fetch))

    def _banded_zscores_apply(self, k: int) -> bool:
        """Is a known user's list of ``k`` the two z-score bands of ``_banded_zscores`` (both
        weights strictly between 0 and 1 and different, ``k`` beyond the head)?"""
        head, rest = self.text_weight, self.pool_text_weight
        return k > HEAD and head != rest and min(head, rest) > 0.0 and max(head, rest) < 1.0

    def _exact_banded(self, cf_query, text_query, history_rows, excluded_ids, k: int) -> Candidates | None:
        """``for_user_update``'s two bands from every movie's exact score in both indexes, when
        both are embedded stores (``scores_by_int_id``; None otherwise): the same pool (each
        index's top ``max(k, MIN_POOL)`` unseen movies), the same scores up to float32 rounding
        and so the same list apart from exact ties, in one mat-vec per index instead of two
        ``top_k`` queries, the union's re-scoring and the id bookkeeping between them. Measured on
        ml-100k, ``benchmarks/bench_online_path.py``'s generator row in two alternated pairs: 1.19
        and 1.02 ms before, 0.69 and 0.66 ms after. Exact ties at the pool's edge (ml-100k lists
        some films twice, with one text) may be broken the other way, as two runs of
        ``argpartition`` may: 3 of 943 users' pools differed so, which moved their fused scores by
        up to 0.006 and swapped near-equal places in 2 lists, each list holding the same movies.
        Left out: the history's catalogue rows and ``excluded_ids`` (movie ids; any outside the
        catalogue ignored, as the stores ignore them)."""
        layout_cf = getattr(self.cf_store, "scores_by_int_id", None)
        layout_text = getattr(self.text_store, "scores_by_int_id", None)
        if layout_cf is None or layout_text is None:
            return None
        cf_scores, text_scores = layout_cf(cf_query, self.movie_ids), layout_text(text_query, self.movie_ids)
        if cf_scores is None or text_scores is None:
            return None
        allowed = np.ones(self.movie_ids.size, dtype=bool)
        allowed[history_rows] = False
        pos = np.minimum(np.searchsorted(self.movie_ids, excluded_ids), self.movie_ids.size - 1)
        allowed[pos[self.movie_ids[pos] == excluded_ids]] = False
        in_pool = np.zeros(self.movie_ids.size, dtype=bool)
        size = max(k, MIN_POOL)
        for scores in (cf_scores, text_scores):
            candidates = np.flatnonzero(allowed & (scores > -np.inf))  # -inf: not in that index
            if candidates.size > size:
                candidates = candidates[np.argpartition(scores[candidates], candidates.size - size)[-size:]]
            in_pool[candidates] = True
        rows = np.flatnonzero(in_pool)
        if rows.size == 0:
            return Candidates(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
        pool = {"movie_ids": self.movie_ids[rows]}
        for part, scores, vectors, query in (("cf", cf_scores, self.cf.item_factors, cf_query),
                                             ("text", text_scores, self.text_vectors, text_query)):
            pool[part] = scores[rows]
            absent = pool[part] == -np.inf  # in the pool through the other index only (a CF index holds no
            if absent.any():                # movie nobody rated): scored as _score_pool scores it
                pool[part][absent] = vectors[rows[absent]] @ query
        return _banded_zscores(pool, self.text_weight, self.pool_text_weight, k, HEAD)

    def for_profile(self, liked_movie_ids=(), wish: str | None = None, k: int = 50, exclude=(),
                    filters: dict | None = None, text_weight: float | None = None,
                    neighbour_share: float | None = None) -> Candidates:
        """Cold start: ALS fold-in of the liked movies, their item-to-item neighbours in the cosine CF
        index, and text neighbours of them and of the wish (module docstring). A profile of one
        title uses the weights chosen on single-title validation profiles."""
        _check_k(k)
        liked = np.asarray([int(m) for m in liked_movie_ids], dtype=np.int64)
        self._item_rows(liked, "liked_movie_ids")
        wish = (wish or "").strip() or None
        if liked.size == 0 and wish is None:
            raise ValueError("a cold-start profile needs liked_movie_ids or a wish; got neither")
        relaxed = None
        if wish is not None:
            read = self.understand(wish)
            liked = np.asarray(list(dict.fromkeys([*liked.tolist(), *read.liked_movie_ids])), dtype=np.int64)
            if read.filter is not None:
                relaxed = _and(filters, read.relaxed_filter)
                filters = _and(filters, read.filter)
        liked_rows = self._item_rows(liked, "liked_movie_ids")
        excluded = np.union1d(liked, np.asarray([int(m) for m in exclude], dtype=np.int64))
        text_query = None
        if liked.size:
            text_query = _unit(self.text_vectors[liked_rows].mean(axis=0))
        if wish is not None:
            if self.encode is None:
                raise ValueError("this generator has no text encoder, so it cannot read a wish")
            wish_vector = _unit(np.asarray(self.encode([wish]), dtype=np.float32)[0])
            text_query = wish_vector if text_query is None else _unit(text_query + wish_vector)
        cf_rows = liked_rows[np.any(self.cf.item_factors[liked_rows] != 0, axis=1)]
        cf_query = self.cf.fold_in(cf_rows) if cf_rows.size else None
        single = wish is None and liked.size == 1
        if text_weight is None:
            if wish is not None:
                text_weight = max(self.cold_text_weight, WISH_TEXT_WEIGHT)
            else:
                text_weight = self.single_text_weight if single else self.cold_text_weight
        if neighbour_share is None:
            neighbour_share = self.single_neighbour_share if single else self.cold_neighbour_share
        if not 0.0 <= neighbour_share <= 1.0:
            raise ValueError(f"neighbour_share must lie in [0, 1], got {neighbour_share}")
        if neighbour_share > 0 and self.neighbour_store is None:
            raise ValueError("this generator has no cosine CF index (neighbour_store), so neighbour_share must be 0")
        if cf_query is None:
            text_weight = 1.0
        nbr_query = self.cf.neighbour_query(cf_rows) if neighbour_share > 0 and cf_query is not None else None
        prior = self.cold_popularity_weight
        # With a prior, both indexes are asked even at w = 0 or 1, as on validation (build.select_fusion):
        # the prior re-ranks the union of the two pools.
        fetch = 0.5 if prior > 0 and cf_query is not None and text_query is not None else text_weight
        pool = self._pool(cf_query, text_query, excluded, k, filters, fetch, nbr_query)
        if relaxed is not None and pool["movie_ids"].size < k:
            # fewer than k films carry every named genre: any of them will do
            pool = self._pool(cf_query, text_query, excluded, k, relaxed, fetch, nbr_query)
        return self.fuse(pool, text_weight, k, prior, neighbour_share)

    def understand(self, wish: str):
        """The wish's genre filter and named titles (``wish.understand_wish``)."""
        from .wish import understand_wish

        return understand_wish(wish, self.titles, self.genres)

    # ------------------------------------------------------------------ retrieval and fusion
    def pools(self, rows: np.ndarray, k: int, filters: dict | None = None,
              text_weight: float | None = None) -> list[dict]:
        """Per user: the unseen pools of both indexes with exact scores (what ``fuse`` reads).

        ``text_weight`` 0 (or 1) queries only the CF (text) index; ``None`` uses the fitted weight,
        and a value strictly between queries both (validation reuses the pools for every weight).
        """
        _check_k(k)
        weight = self.text_weight if text_weight is None else text_weight
        seen = [self.seen[r] for r in rows]
        k = max(k, MIN_POOL)
        n = len(rows)
        cf_lists = self._retrieve(self.cf_store, self.cf.user_factors[rows], seen, k, filters) \
            if weight < 1.0 else [None] * n
        text_lists = self._retrieve(self.text_store, self.user_text_vectors[rows], seen, k, filters) \
            if weight > 0.0 else [None] * n
        return [self._score_pool(self.cf.user_factors[r], self.user_text_vectors[r], c, t)
                for r, c, t in zip(rows, cf_lists, text_lists, strict=True)]

    def _pool(self, cf_query, text_query, excluded, k, filters, weight, nbr_query=None) -> dict:
        """One profile's pool: the CF (fold-in), cosine-neighbour and text indexes' unseen top lists."""
        k = max(k, MIN_POOL)
        cf_list = self._retrieve(self.cf_store, cf_query[None, :], [excluded], k, filters)[0] \
            if cf_query is not None and weight < 1.0 else None
        nbr_list = self._retrieve(self.neighbour_store, nbr_query[None, :], [excluded], k, filters)[0] \
            if nbr_query is not None and weight < 1.0 else None
        text_list = self._retrieve(self.text_store, text_query[None, :], [excluded], k, filters)[0] \
            if text_query is not None and weight > 0.0 else None
        return self._score_pool(cf_query, text_query, cf_list, text_list, nbr_query, nbr_list)

    def _score_pool(self, cf_query, text_query, cf_list, text_list, nbr_query=None, nbr_list=None) -> dict:
        # The union as a mask over catalogue rows: sorted like the ids, ~4x cheaper than np.unique.
        in_pool = np.zeros(self.movie_ids.size, dtype=bool)
        for part in (cf_list, text_list, nbr_list):
            if part is not None:
                in_pool[np.searchsorted(self.movie_ids, part)] = True
        rows = np.flatnonzero(in_pool)
        ids = self.movie_ids[rows]
        pool = {"movie_ids": ids, "cf_order": cf_list, "text_order": text_list, "nbr_order": nbr_list,
                "pop": self._log_popularity[rows]}
        pool["cf"] = self.cf.item_factors[rows] @ cf_query if cf_query is not None else np.zeros(ids.size, np.float32)
        pool["text"] = self.text_vectors[rows] @ text_query if text_query is not None else np.zeros(ids.size, np.float32)
        # the cosine index's score up to the query's length, which z-scores ignore
        pool["nbr"] = self.cf.unit_item_factors[rows] @ nbr_query if nbr_query is not None else \
            np.zeros(ids.size, np.float32)
        return pool

    @staticmethod
    def fuse(pool: dict, text_weight: float, k: int, popularity_weight: float = 0.0,
             neighbour_share: float = 0.0) -> Candidates:
        """Weighted z-score fusion of one pool (see the module docstring); best first.

        ``neighbour_share`` ν splits the CF part between the fold-in and the liked titles' cosine
        neighbours: ``(1 - w) · ((1 - ν) z_cf + ν z_nbr) + w · z_text + β · z_pop``.
        """
        ids = pool["movie_ids"]
        if ids.size == 0:
            return Candidates(ids, np.empty(0, dtype=np.float32))
        if neighbour_share > 0.0 and pool.get("nbr_order") is not None:
            return fuse_zscores(pool, zscore_parts(pool), text_weight, k, popularity_weight, neighbour_share)
        if pool.get("nbr_order") is not None:
            # ν = 0: the pool the generator would have fetched without the neighbour index
            pool = _without_neighbours(pool)
            ids = pool["movie_ids"]
        if popularity_weight > 0.0:
            return fuse_zscores(pool, zscore_parts(pool), text_weight, k, popularity_weight)
        if text_weight <= 0.0 and pool["cf_order"] is not None:
            order_ids = pool["cf_order"][:k]
            return Candidates(order_ids, pool["cf"][np.searchsorted(ids, order_ids)])
        if text_weight >= 1.0 and pool["text_order"] is not None:
            order_ids = pool["text_order"][:k]
            return Candidates(order_ids, pool["text"][np.searchsorted(ids, order_ids)])
        score = (1.0 - text_weight) * _zscore(pool["cf"].astype(np.float64)) + \
            text_weight * _zscore(pool["text"].astype(np.float64))
        order = np.lexsort((ids, -score))[:k]
        return Candidates(ids[order], score[order])

    @classmethod
    def fuse_banded(cls, pool: dict, head_weight: float, pool_weight: float, k: int, head: int = HEAD) -> Candidates:
        """The first ``head`` movies of ``fuse(pool, head_weight)``, then ``fuse(pool, pool_weight)``
        without them, ``k`` in all. Each movie keeps its own band's fused score; the second band's
        are shifted down by one constant where needed, so the scores stay best first."""
        if min(head_weight, pool_weight) > 0.0 and max(head_weight, pool_weight) < 1.0 \
                and pool.get("nbr_order") is None and pool["cf_order"] is not None \
                and pool["text_order"] is not None and pool["movie_ids"].size:
            return _banded_zscores(pool, head_weight, pool_weight, k, head)
        top = cls.fuse(pool, head_weight, min(head, k))
        rest = cls.fuse(pool, pool_weight, k + len(top))
        keep = ~np.isin(rest.movie_ids, top.movie_ids)
        return _join_bands(top.movie_ids, top.scores, rest.movie_ids[keep][: k - len(top)],
                           rest.scores[keep][: k - len(top)])

    def _retrieve(self, store, vectors, seen, n, filters) -> list[np.ndarray]:
        return [ids for ids, _ in unseen_top(store, vectors, seen, n, filters, self._parse_ids)]

    # ------------------------------------------------------------------ helpers
    def _user_rows(self, user_ids) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(user_ids, dtype=np.int64))
        pos = np.clip(np.searchsorted(self.user_ids, ids), 0, max(self.user_ids.size - 1, 0))
        unknown = self.user_ids[pos] != ids
        if unknown.any():
            raise KeyError(f"users {ids[unknown][:5].tolist()} have no training ratings; "
                           "recommend for them with for_profile(liked_movie_ids=..., wish=...)")
        return pos

    def _item_rows(self, movie_ids: np.ndarray, what: str) -> np.ndarray:
        pos = np.clip(np.searchsorted(self.movie_ids, movie_ids), 0, self.movie_ids.size - 1)
        unknown = self.movie_ids[pos] != movie_ids
        if unknown.any():
            raise KeyError(f"{what} holds ids not in the catalogue: {movie_ids[unknown][:5].tolist()}; "
                           "find ids with match_titles([...])")
        return pos


def zscore_parts(pool: dict) -> dict:
    """The z-scores the z-score fusion reads (``None`` for a part the pool lacks); validation
    computes them once per pool and reuses them for every cell of its grid."""
    def part(order_key, score_key):
        return None if pool.get(order_key) is None else _zscore(pool[score_key].astype(np.float64))

    return {"cf": part("cf_order", "cf"), "nbr": part("nbr_order", "nbr"), "text": part("text_order", "text"),
            "pop": _zscore(pool["pop"])}


def fuse_zscores(pool: dict, parts: dict, text_weight: float, k: int, popularity_weight: float,
                 neighbour_share: float = 0.0) -> Candidates:
    """``(1 - w) · ((1 - ν) z_cf + ν z_nbr) + w · z_text + β · z_pop`` over the pool, best first.
    A missing part drops out: without the CF parts the score is the text's, without text the CF's."""
    ids = pool["movie_ids"]
    score = fused_scores(parts, text_weight, popularity_weight, neighbour_share)
    order = np.lexsort((ids, -score))[:k]
    return Candidates(ids[order], score[order])


def fused_scores(parts: dict, text_weight: float, popularity_weight: float = 0.0,
                 neighbour_share: float = 0.0) -> np.ndarray:
    """``fuse_zscores``'s score of every movie in the pool, in the pool's order."""
    cf, nbr, text = parts["cf"], parts["nbr"], parts["text"]
    if nbr is not None:
        cf = nbr if cf is None else (1.0 - neighbour_share) * cf + neighbour_share * nbr
    score = text if cf is None else cf if text is None else (1.0 - text_weight) * cf + text_weight * text
    if popularity_weight > 0.0:
        score = score + popularity_weight * parts["pop"]
    return score


def _banded_zscores(pool: dict, head_weight: float, pool_weight: float, k: int, head: int) -> Candidates:
    """``fuse_banded`` when both bands are z-score mixes of the two indexes (0 < w < 1): each
    part's z-scores computed once and the head masked out by position, the same lists and scores as
    two ``fuse`` calls (tested) at a third of the cost (~0.25 -> 0.08 ms per 300-movie pool)."""
    ids = pool["movie_ids"]
    # the two parts the bands read (zscore_parts would also z-score the popularity, unused here)
    parts = {"cf": _zscore(pool["cf"].astype(np.float64)), "text": _zscore(pool["text"].astype(np.float64)),
             "nbr": None, "pop": None}
    head_score, pool_score = fused_scores(parts, head_weight), fused_scores(parts, pool_weight)
    top = np.lexsort((ids, -head_score))[: min(head, k)]
    taken = np.zeros(ids.size, dtype=bool)
    taken[top] = True
    order = np.lexsort((ids, -pool_score))
    rest = order[~taken[order]][: k - top.size]
    return _join_bands(ids[top], head_score[top], ids[rest], pool_score[rest])


def _join_bands(head_ids, head_scores, rest_ids, rest_scores) -> Candidates:
    """The head, then the rest with its scores shifted down by one constant where needed, so the
    joined scores stay best first (each movie keeps its own band's fused score otherwise)."""
    if len(head_scores) and len(rest_scores) and rest_scores[0] > head_scores[-1]:
        rest_scores = rest_scores - (rest_scores[0] - head_scores[-1])
    return Candidates(np.concatenate([head_ids, rest_ids]), np.concatenate([head_scores, rest_scores]))


def _without_neighbours(pool: dict) -> dict:
    parts = [x for x in (pool["cf_order"], pool["text_order"]) if x is not None]
    keep = np.isin(pool["movie_ids"], np.concatenate(parts)) if parts else np.zeros(pool["movie_ids"].size, bool)
    out = {name: (value[keep] if name in ("movie_ids", "cf", "text", "nbr", "pop") else value)
           for name, value in pool.items()}
    out["nbr_order"] = None
    return out


def _and(a: dict | None, b: dict | None) -> dict | None:
    if a is None or b is None:
        return a if b is None else b
    return {"$and": [a, b]}


def _check_k(k) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k > MAX_TOP_K:
        raise ValueError(f"k={k} is more than one index query can return (top_k <= {MAX_TOP_K})")


class CatalogueIds:
    """The stores' string ids -> int64 movie ids, by binary search in the catalogue's ids as text.

    Why not ``astype(np.int64)``: numpy's string-to-int cast measured ~0.1 ms per 300 ids here, a
    tenth of a service request with two index queries; the search takes a quarter of that. An id
    outside the catalogue falls back to the cast."""

    def __init__(self, movie_ids):
        text = np.asarray([str(int(m)) for m in movie_ids]) if len(movie_ids) else np.empty(0, dtype=str)
        order = np.argsort(text, kind="stable")
        self.text, self.ids = text[order], np.asarray(movie_ids, dtype=np.int64)[order]

    def __call__(self, text_ids: np.ndarray) -> np.ndarray:
        if text_ids.size == 0 or self.text.size == 0:
            return text_ids.astype(np.int64)
        pos = np.minimum(np.searchsorted(self.text, text_ids), self.text.size - 1)
        if np.array_equal(self.text[pos], text_ids):
            return self.ids[pos]
        return text_ids.astype(np.int64)


def _query_ids(store, vectors, top_k: int, filters, parse=None) -> tuple[np.ndarray, np.ndarray]:
    """(int64 movie ids, -1 in the padding; scores): the store's ``query_many_int`` (the local
    store gathers integer ids without text), or ``query_many`` parsed for a duck-typed store."""
    query_int = getattr(store, "query_many_int", None)
    if query_int is not None:
        return query_int(vectors, top_k=top_k, filter=filters, parse=parse)
    ids, scores = store.query_many(vectors, top_k=top_k, filter=filters)
    return int_ids(np.asarray(ids), parse, getattr(store, "name", "?")), scores


def _as_ids(row: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    present = row >= 0
    return row[present], np.asarray(scores, dtype=np.float32)[present]


def unseen_top(store, vectors: np.ndarray, seen: Sequence[np.ndarray], n: int,
               filters: dict | None = None, parse_ids=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Top-``n`` ``(movie_ids, scores)`` per query vector, none of them in that query's ``seen``.

    A store that leaves ids out itself (the embedded store's ``query_many_int_excluding``) is
    asked once for exactly ``n``. Otherwise (Pinecone): one batched query of ``2n + 50`` plus the
    bounded over-fetch per vector; a query whose window holds fewer than ``n`` unseen movies is
    asked again with ``$nin`` of the seen movies found so far (see the module docstring), so
    ``top_k`` stays <= 10,000 and no filter holds more than ``MAX_NIN`` ids.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(seen) != len(vectors):
        raise ValueError(f"{len(vectors)} query vectors but {len(seen)} seen lists; give one per query")
    excluding = getattr(store, "query_many_int_excluding", None)  # the embedded store leaves them out itself
    found = excluding(vectors, n, seen, filters) if excluding is not None else None
    if found is not None:
        return [_as_ids(ids, scores) for ids, scores in zip(*found, strict=True)]
    top_k = _fetch_size(n, [len(s) for s in seen])
    ids, scores = _query_ids(store, vectors, top_k, filters, parse_ids)
    out = []
    for row, user_seen in enumerate(seen):
        found, found_scores = _as_ids(ids[row], scores[row])
        is_seen = np.isin(found, user_seen)
        if (~is_seen).sum() >= n or found.size < top_k:
            out.append((found[~is_seen][:n], found_scores[~is_seen][:n]))
        else:
            out.append(_unseen_excluding(store, vectors[row], user_seen, found[is_seen], n, filters, parse_ids))
    return out


def _unseen_excluding(store, vector, user_seen, seen_found, n, filters, parse_ids=None):
    """Ask again with ``$nin`` of the seen movies found so far, until ``n`` unseen ones come back."""
    excluded = np.asarray(seen_found, dtype=np.int64)
    while True:
        capped = excluded.size >= MAX_NIN
        top_k = MAX_TOP_K if capped else _fetch_size(n)
        ids, scores = _query_ids(store, vector[None, :], top_k, exclusion_filter(filters, excluded[:MAX_NIN]),
                                 parse_ids)
        found, found_scores = _as_ids(ids[0], scores[0])
        if np.isin(found, excluded[:MAX_NIN]).any():
            raise ValueError(f"the {getattr(store, 'name', '?')!r} index ignored a movie_id $nin filter; its records "
                             "need a numeric 'movie_id' metadata field (build them with candidates.index_records)")
        is_seen = np.isin(found, user_seen)
        unseen = found[~is_seen]
        if unseen.size >= n or found.size < top_k or capped:
            if unseen.size < n and found.size == top_k:
                logger.warning("only %d unseen candidates within top_k=%d for a user who rated %d movies",
                               unseen.size, top_k, len(user_seen))
            return unseen[:n], found_scores[~is_seen][:n]
        excluded = np.union1d(excluded, found[is_seen])
