"""What the agent sees: the observation layout, shared by the environment and the service.

One flat float32 vector in [-1, 1], in this order (sizes for ``taste_dim`` d, ``n_genres`` G and
``k`` candidates):

=====================  ==========  ===========================================================
block                  size        meaning
=====================  ==========  ===========================================================
taste                  d           the user's taste embedding, PCA-reduced, scaled and clipped
history_genres         G           share of each genre among the last ``window`` recommendations
last_feedback          3           click, watch fraction, like of the previous recommendation
session_counts         3           misses, clicks and likes so far, each / max_steps
position               1           step / max_steps
candidates             k * (3+G+F) per candidate: similarity, popularity, recent-genre overlap,
                                   its G genre flags, then its F item features (the collaborative
                                   embedding, ``Catalog.item_features``; F = 0 without one)
=====================  ==========  ===========================================================

"recent-genre overlap" is the same share the simulator's boredom starts from, computed from the
recommendation history the agent itself produced; the simulator's boredom tolerance and weight, the user's
patience and the true ratings stay hidden.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .simulator import genre_overlap

CANDIDATE_FEATURES = ("similarity", "popularity", "recent_genre_overlap")
FEEDBACK_SIZE = 3
COUNTS_SIZE = 3


@dataclass(frozen=True)
class ObservationLayout:
    taste_dim: int
    n_genres: int
    k: int
    window: int
    max_steps: int
    item_feature_dim: int = 0

    @property
    def per_candidate(self) -> int:
        return len(CANDIDATE_FEATURES) + self.n_genres + self.item_feature_dim

    @property
    def user_size(self) -> int:
        return self.taste_dim + self.n_genres + FEEDBACK_SIZE + COUNTS_SIZE + 1

    @property
    def size(self) -> int:
        return self.user_size + self.k * self.per_candidate

    def slices(self) -> dict[str, list[int]]:
        """Block name -> [start, stop) in the flat vector (written into the policy manifest)."""
        sizes = [
            ("taste", self.taste_dim),
            ("history_genres", self.n_genres),
            ("last_feedback", FEEDBACK_SIZE),
            ("session_counts", COUNTS_SIZE),
            ("position", 1),
            ("candidates", self.k * self.per_candidate),
        ]
        out, start = {}, 0
        for name, size in sizes:
            out[name] = [start, start + size]
            start += size
        return out

    def as_dict(self) -> dict:
        return {**asdict(self), "size": self.size, "slices": self.slices(),
                "candidate_features": [*CANDIDATE_FEATURES, "genres...", "item_features..."]}

    @classmethod
    def from_dict(cls, values: dict) -> ObservationLayout:
        return cls(values["taste_dim"], values["n_genres"], values["k"], values["window"], values["max_steps"],
                   int(values.get("item_feature_dim", 0)))

    def candidate_block(self, observations: np.ndarray) -> np.ndarray:
        """View (..., k, per_candidate) of the candidate features of one or many observations."""
        start = self.user_size
        return observations[..., start:].reshape(*observations.shape[:-1], self.k, self.per_candidate)

    def user_block(self, observations: np.ndarray) -> np.ndarray:
        return observations[..., : self.user_size]


def build_observations(
    layout: ObservationLayout,
    taste: np.ndarray,
    window_genre_counts: np.ndarray,
    last_feedback: np.ndarray,
    counts: np.ndarray,
    step: np.ndarray,
    cand_similarity: np.ndarray,
    cand_popularity: np.ndarray,
    cand_genres: np.ndarray,
    cand_valid: np.ndarray | None = None,
    cand_item_features: np.ndarray | None = None,
) -> np.ndarray:
    """(n, size) observations for n sessions at once (arrays carry a leading batch axis; the
    user-side ones, ``taste`` to ``step``, may be one row that every observation shares, as the
    slates of one user's candidates do in ``serving.LoadedPolicy.observations``)."""
    n = len(cand_similarity)
    obs = np.empty((n, layout.size), dtype=np.float32)
    d, g = layout.taste_dim, layout.n_genres
    obs[:, :d] = taste
    obs[:, d : d + g] = window_genre_counts / float(layout.window)
    pos = d + g
    obs[:, pos : pos + FEEDBACK_SIZE] = last_feedback
    pos += FEEDBACK_SIZE
    obs[:, pos : pos + COUNTS_SIZE] = counts / float(layout.max_steps)
    pos += COUNTS_SIZE
    obs[:, pos] = np.asarray(step, dtype=np.float32) / float(layout.max_steps)
    block = layout.candidate_block(obs)
    block[..., 0] = cand_similarity
    block[..., 1] = cand_popularity
    block[..., 2] = genre_overlap(cand_genres, window_genre_counts, layout.window)
    block[..., 3 : 3 + g] = cand_genres
    if layout.item_feature_dim:
        if cand_item_features is None:
            raise ValueError(f"the layout expects {layout.item_feature_dim} item features per candidate; pass them")
        block[..., 3 + g :] = cand_item_features
    if cand_valid is not None:
        block[~np.asarray(cand_valid, dtype=bool)] = 0.0
    np.clip(obs, -1.0, 1.0, out=obs)
    return obs


@dataclass
class TasteProjection:
    """PCA of the 384-d MiniLM space fitted on the movie vectors (public, no user leaks in),
    then scaled so a typical coordinate falls in [-1, 1]."""

    mean: np.ndarray
    components: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, item_vectors: np.ndarray, dim: int) -> TasteProjection:
        from sklearn.decomposition import PCA

        if dim > min(item_vectors.shape):
            raise ValueError(f"taste_dim={dim} exceeds the item vectors' shape {item_vectors.shape}")
        pca = PCA(n_components=dim, random_state=0).fit(item_vectors)
        coords = pca.transform(item_vectors)
        scale = 3.0 * coords.std(axis=0) + 1e-8
        return cls(pca.mean_.astype(np.float32), pca.components_.astype(np.float32), scale.astype(np.float32))

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        coords = (np.asarray(vectors, dtype=np.float32) - self.mean) @ self.components.T
        return np.clip(coords / self.scale, -1.0, 1.0).astype(np.float32)
