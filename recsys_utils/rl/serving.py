"""The policy contract the service calls: load a saved policy, describe a user, score candidates.

::

    policy = load_policy(path=None)                       # FileNotFoundError naming lesson 04
    state = policy.state_for(history_movie_ids, history_ratings=None)   # -> UserState
    scores = policy.score(states, candidate_ids)          # (n, K) float32, higher is better
    ranking = rank_candidates(policy, state, candidate_ids)            # -> list[int]
    policy.info  # {"algorithm", "version", "validation_return", "beats_greedy", "gain_vs_greedy", ...}

Every stable-baselines3 internal (``model.q_net`` for DQN, the policy's action logits for PPO)
is read in one place, :meth:`LoadedPolicy.network_scores`, on a batch of observations; nothing
outside ``recsys_utils.rl`` needs to know them.

How K candidates are scored: the environment offers the policy ``layout.k`` candidates at a
time. ``score`` cuts each candidate list, in the order given (the generator's, best first),
into consecutive slates of ``layout.k`` (the last one padded and masked) and scores every
slate on the same user state in one forward pass. The first slate's scores are exactly what
the policy sees in the environment; later slates are scored as if shown now.

The guard (never spoil retrieval): the lesson measures on validation users whether the
policy's order is at least as good on held-out likes as the generator's own order, and stores
``serving.policy_weight`` in the manifest: 1 serves the policy's order, 0 the generator's,
values between blend the two ranks. :func:`rank_candidates` applies it.

Layout under ``artifacts_dir() / "policies"``::

    manifest.json   which policy is best, each policy's algorithm, seed and validation score,
                    the comparison with the greedy, the serving guard, the observation layout
    features.npz    what rebuilds observations: catalogue genres, popularity, item features,
                    the taste projection and the movie vectors
    dqn.zip ppo.zip the best seed (by validation return) of each algorithm
    best.zip        a copy of whichever validation selected
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..fileio import atomic_path, atomic_write_json
from ..paths import artifacts_dir
from .features import ObservationLayout, TasteProjection, build_observations
from .world import Catalog

MANIFEST = "manifest.json"
FEATURES = "features.npz"
CONTRACT_VERSION = 3


def policies_dir() -> Path:
    return artifacts_dir() / "policies"


def save_policies(agent_results: dict, world, layout: ObservationLayout, config, item_vectors: np.ndarray,
                  architecture: str, folder: Path | None = None, comparison: dict | None = None,
                  serving: dict | None = None) -> dict:
    """Copy each algorithm's best-on-validation seed into ``folder`` and write the manifest.

    ``comparison`` is the lesson's verdict on the selected policy against the myopic greedy on
    test users: ``{"value", "ci": [low, high]}`` of return(policy) - return(greedy); the policy
    "beats the greedy" only when the whole interval is above 0. ``serving`` holds the guard
    (``{"policy_weight": w, ...}``, see the module docstring); absent, the policy's order is served.
    """
    folder = Path(folder) if folder is not None else policies_dir()
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for algo, res in agent_results.items():
        best = int(np.argmax(res["best_validation_return"]))
        target = folder / f"{algo.lower()}.zip"
        with atomic_path(target) as tmp:
            shutil.copyfile(res["paths"][best], tmp)
        entries[algo] = {
            "file": target.name, "algorithm": algo, "seed": int(res.get("seeds", list(range(best + 1)))[best]),
            "validation_return": float(res["best_validation_return"][best]),
            "best_step": int(res["best_step"][best]),
        }
    winner = max(entries, key=lambda a: entries[a]["validation_return"])
    with atomic_path(folder / "best.zip") as tmp:
        shutil.copyfile(folder / entries[winner]["file"], tmp)
    catalog = world.catalog
    item_features = catalog.item_features if catalog.item_features is not None else \
        np.zeros((len(catalog.movie_ids), 0), dtype=np.float32)
    cf = _collaborative_arrays(world)
    with atomic_path(folder / FEATURES) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, movie_ids=catalog.movie_ids, genres=catalog.genres, popularity=catalog.popularity,
                 genre_names=np.array(catalog.genre_names), pca_mean=world.projection.mean,
                 pca_components=world.projection.components, pca_scale=world.projection.scale,
                 item_vectors=np.asarray(item_vectors, dtype=np.float32), item_features=item_features, **cf)
    gain = None
    if comparison is not None:
        gain = {"value": float(comparison["value"]), "ci": [float(c) for c in comparison["ci"]]}
    manifest = {
        "contract_version": CONTRACT_VERSION,
        "best": {"file": "best.zip", "algorithm": winner, "seed": entries[winner]["seed"],
                 "validation_return": entries[winner]["validation_return"]},
        "policies": entries,
        "gain_vs_greedy": gain,
        "serving": {"policy_weight": 1.0, **(serving or {})},
        "k": layout.k,
        "observation_layout": layout.as_dict(),
        "architecture": architecture,
        "simulator": config.as_dict(),
        "features": FEATURES,
        "validation": "mean return on the validation users, selected over checkpoints and seeds",
        "rank_with": "recsys_utils.rl.rank_candidates(load_policy(), policy.state_for(history), candidate_ids)",
    }
    atomic_write_json(folder / MANIFEST, manifest)
    return manifest


def _collaborative_arrays(world) -> dict:
    """The candidate generator's ALS item factors (aligned with the catalogue) and the settings
    of its user step, so serving can fold a user in and compute the score the observation carries."""
    cf = getattr(world, "cf_vectors", None)
    if world.pool_cf is None or cf is None:
        return {}
    return {"cf_item_factors": np.asarray(cf.item_factors, dtype=np.float32),
            "cf_regularization": np.array(cf.regularization), "cf_alpha": np.array(cf.alpha)}


@dataclass
class CollaborativeModel:
    """What scores a (user, movie) pair the way the agents' observation does: the candidate
    generator's ALS score ``clip(u . y_i, -1, 1)``, with the user ``u`` folded in from the watched
    movies by ALS's own user step (``candidates.CFVectors.fold_in``; every rated movie is an
    interaction, as when the generator was fitted)."""

    item_factors: np.ndarray
    regularization: float
    alpha: float

    def __post_init__(self):
        from ..candidates import CFVectors

        empty = np.zeros((0, self.item_factors.shape[1]), dtype=np.float32)
        self._cf = CFVectors(self.item_factors, empty, np.zeros(0, dtype=np.int64), self.regularization, self.alpha)
        self._has_vector = np.any(self.item_factors != 0, axis=1)  # movies the ALS has a vector for

    def fold_in(self, positions: np.ndarray) -> np.ndarray | None:
        rows = np.asarray(positions, dtype=np.int64)
        rows = rows[self._has_vector[rows]]
        return self._cf.fold_in(rows) if rows.size else None

    def scores(self, user: np.ndarray | None, positions: np.ndarray) -> np.ndarray:
        if user is None:
            return np.zeros(len(positions), dtype=np.float32)
        return np.clip(self.item_factors[positions] @ np.asarray(user, dtype=np.float32), -1.0, 1.0).astype(np.float32)


@dataclass
class UserState:
    """What the service knows about the user at request time.

    ``taste_embedding``: the user's vector in the saved movie-vector space (the MiniLM space
    lesson 02 embeds in, ``embeddings.user_embedding``); when missing, the mean of the recent
    movies' vectors is used. ``recent_movie_ids``: the latest recommendations or views, most
    recent last. ``step``, ``last_feedback`` (click, watch, like) and ``counts`` (misses,
    clicks, likes) describe the current session; zeros for a new one. ``cf_embedding`` is the
    user's vector in the candidate generator's ALS space (``state_for`` folds it in from the
    history); without it the collaborative score is 0.
    """

    taste_embedding: np.ndarray | None = None
    recent_movie_ids: Sequence[int] = ()
    step: int = 0
    last_feedback: tuple[float, float, float] = (0.0, 0.0, 0.0)
    counts: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cf_embedding: np.ndarray | None = None


@dataclass
class LoadedPolicy:
    model: object
    algorithm: str
    layout: ObservationLayout
    catalog: Catalog
    projection: TasteProjection
    item_vectors: np.ndarray
    manifest: dict = field(default_factory=dict)
    collaborative: CollaborativeModel | None = None
    _numpy_forward: object = field(default=None, repr=False)  # NumpyForward, False when unavailable

    # -- the contract ----------------------------------------------------------------
    @property
    def info(self) -> dict:
        """What the service shows on ``/health``: which policy, how it was selected, whether it
        beats the myopic greedy (95% interval of the return difference entirely above 0)."""
        best = self.manifest.get("best", {})
        gain = self.manifest.get("gain_vs_greedy")
        return {
            "algorithm": self.algorithm,
            "version": f"{self.algorithm.lower()}-seed{best.get('seed', '?')}",
            "validation_return": best.get("validation_return"),
            "beats_greedy": bool(gain is not None and gain["ci"][0] > 0),
            "gain_vs_greedy": gain,
            "policy_weight": float(self.manifest.get("serving", {}).get("policy_weight", 1.0)),
        }

    def state_for(self, history_movie_ids: Sequence[int], history_ratings: Sequence[float] | None = None,
                  **session) -> UserState:
        """A :class:`UserState` from what the user watched (oldest first), as lesson 02 embeds users:
        the rating-weighted mean of the liked movies' vectors (all watched movies, equally
        weighted, without ratings). ``session`` may set ``step``, ``last_feedback``, ``counts``."""
        from ..embeddings.users import user_embedding

        ids = np.asarray(history_movie_ids, dtype=np.int64).ravel()
        if not ids.size:
            raise ValueError("state_for needs at least one watched movie id (or build UserState(taste_embedding=...))")
        pos = self._positions(ids, "history_movie_ids")
        ratings = np.ones(len(ids)) if history_ratings is None else np.asarray(history_ratings, dtype=np.float64)
        if len(ratings) != len(ids):
            raise ValueError(f"{len(ratings)} history_ratings for {len(ids)} history_movie_ids")
        taste = user_embedding(self.item_vectors, ratings, rows=pos)
        cf = self.collaborative.fold_in(pos) if self.collaborative is not None else None
        return UserState(taste_embedding=taste, recent_movie_ids=ids[-self.layout.window :].tolist(), cf_embedding=cf,
                         **session)

    def score(self, states: UserState | Sequence[UserState], candidate_ids, similarities=None) -> np.ndarray:
        """(n, K) float32 scores of each state's K candidates, higher is better.

        ``candidate_ids`` is one list of K ids shared by every state, or an (n, K) array;
        ``similarities`` (the generator's scores, same shape) replace the similarity the policy
        would otherwise recompute from the saved movie vectors.
        """
        states = [states] if isinstance(states, UserState) else list(states)
        if not states:
            raise ValueError("score needs at least one UserState")
        ids = np.asarray(candidate_ids, dtype=np.int64)
        if ids.ndim == 1:
            ids = np.broadcast_to(ids, (len(states), len(ids)))
        if ids.ndim != 2 or len(ids) != len(states) or ids.shape[1] == 0:
            raise ValueError(f"candidate_ids must be (K,) or ({len(states)}, K) with K >= 1; got shape "
                             f"{np.shape(candidate_ids)}")
        sims = None if similarities is None else np.broadcast_to(np.asarray(similarities, np.float32), ids.shape)
        obs, valid = self.observations(states, ids, sims)
        n, slates, k = valid.shape
        raw = self.network_scores(obs.reshape(n * slates, -1)).reshape(n, slates * k)
        return raw[:, : ids.shape[1]].astype(np.float32)

    # -- building blocks ---------------------------------------------------------------
    def network_scores(self, observations: np.ndarray) -> np.ndarray:
        """(m, k) per-slot scores for a batch of observations: DQN Q-values or PPO action logits.

        The one place that reads stable-baselines3 internals. Served through the network's numpy
        copy (``networks.NumpyForward``: same numbers, a fraction of torch's per-call cost) when
        the architecture is the course's and the copy agrees with torch, else through torch."""
        if self._numpy_forward is None:
            self._numpy_forward = self._numpy_copy() or False
        if self._numpy_forward:
            return self._numpy_forward(observations)
        return self._torch_scores(observations)

    def _torch_scores(self, observations: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            obs = torch.as_tensor(np.asarray(observations, dtype=np.float32))
            if self.algorithm == "DQN":
                return self.model.q_net(obs).numpy()
            return self.model.policy.get_distribution(obs).distribution.logits.numpy()

    def _numpy_copy(self):
        """DQN: the Q-network's scorer and its linear head. PPO: the actor's features, its MLP and
        the action layer, then log-softmax (what the categorical distribution's logits are)."""
        from .networks import NumpyForward

        if self.algorithm == "DQN":
            q_net = self.model.q_net
            forward = NumpyForward.from_torch(q_net.features_extractor, list(q_net.q_net))
        else:
            policy = self.model.policy
            forward = NumpyForward.from_torch(policy.pi_features_extractor,
                                              [*policy.mlp_extractor.policy_net, policy.action_net], log_softmax=True)
        if forward is None:
            return None
        return forward if _agrees(forward, self._torch_scores, self.layout.size) else None

    def action_scores(self, observation: np.ndarray) -> np.ndarray:
        """One observation's per-slot scores (Q-values, or PPO action log-probabilities)."""
        scores = self.network_scores(np.asarray(observation)[None])[0]
        if self.algorithm == "PPO":
            scores = scores - np.logaddexp.reduce(scores)
        return scores

    def taste_vector(self, state: UserState) -> np.ndarray:
        if state.taste_embedding is not None:
            vector = np.asarray(state.taste_embedding, dtype=np.float32).ravel()
            if vector.shape[0] != self.item_vectors.shape[1]:
                raise ValueError(f"taste_embedding has {vector.shape[0]} dims; the policy expects "
                                 f"{self.item_vectors.shape[1]} (the movie vectors it was saved with)")
        elif len(state.recent_movie_ids):
            vector = self.item_vectors[self._positions(state.recent_movie_ids, "recent_movie_ids")].mean(axis=0)
        else:
            raise ValueError("UserState needs a taste_embedding or some recent_movie_ids to rank for")
        return vector / max(float(np.linalg.norm(vector)), 1e-9)

    def observations(self, states: Sequence[UserState], candidate_ids: np.ndarray,
                     similarities: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(n, slates, obs) observations and (n, slates, k) validity for (n, K) candidate ids."""
        k, layout = self.layout.k, self.layout
        n, n_cand = candidate_ids.shape
        n_slates = -(-n_cand // k)
        obs = np.zeros((n, n_slates, layout.size), dtype=np.float32)
        valid = np.zeros((n, n_slates, k), dtype=bool)
        all_pos = self._positions(candidate_ids.ravel(), "candidate_ids").reshape(n, n_cand)
        for i, state in enumerate(states):
            taste = self.taste_vector(state)
            reduced = self.projection.transform(taste[None])[0]
            recent = list(state.recent_movie_ids)[-layout.window :]
            window_counts = self.catalog.genres[self._positions(recent, "recent_movie_ids")].sum(axis=0) \
                if recent else np.zeros(layout.n_genres, dtype=np.float32)
            sims = self.item_vectors[all_pos[i]] @ taste if similarities is None else similarities[i]
            extra = self._item_features(state, all_pos[i])
            # Every slate of this state in one batched call: the candidates padded to a whole
            # number of slates (padding is invalid, so its features are zeroed), the user block repeated.
            width = n_slates * k
            padded = np.zeros(width, dtype=np.int64)
            padded[:n_cand] = all_pos[i]
            sim_full = np.zeros(width, dtype=np.float32)
            sim_full[:n_cand] = sims
            valid[i].reshape(-1)[:n_cand] = True
            slates = padded.reshape(n_slates, k)
            obs[i] = build_observations(
                layout, reduced, window_counts, np.asarray(state.last_feedback, np.float32),
                np.asarray(state.counts, np.float32), int(state.step),
                sim_full.reshape(n_slates, k), self.catalog.popularity[slates], self.catalog.genres[slates],
                cand_valid=valid[i],
                cand_item_features=None if extra is None else _pad(extra, width).reshape(n_slates, k, -1),
            )
        return obs, valid

    def observation(self, state: UserState, slate_ids: Sequence[int], similarities=None) -> tuple[np.ndarray, np.ndarray]:
        """(observation, valid mask) of one slate of up to K candidates, as the environment builds it."""
        if not 0 < len(slate_ids) <= self.layout.k:
            raise ValueError(f"a slate holds 1..{self.layout.k} candidates, got {len(slate_ids)}")
        ids = np.asarray(slate_ids, dtype=np.int64)[None]
        sims = None if similarities is None else np.asarray(similarities, np.float32)[None]
        obs, valid = self.observations([state], ids, sims)
        return obs[0, 0], valid[0, 0]

    def _item_features(self, state: UserState, positions: np.ndarray) -> np.ndarray | None:
        """(K, F) per-candidate item features in the environment's order: the collaborative
        score (when the policy has one), then the catalogue's item features."""
        parts = []
        if self.collaborative is not None:
            parts.append(self.collaborative.scores(state.cf_embedding, positions)[:, None])
        if self.catalog.item_features is not None:
            parts.append(self.catalog.item_features[positions])
        if not parts:
            return None
        out = np.concatenate(parts, axis=1)
        if out.shape[1] != self.layout.item_feature_dim:
            raise ValueError(f"the saved policy expects {self.layout.item_feature_dim} item features per candidate, "
                             f"its feature file gives {out.shape[1]}; rerun lesson 04")
        return out

    def _positions(self, movie_ids, what: str) -> np.ndarray:
        try:
            return self.catalog.positions(movie_ids)
        except KeyError as err:
            raise KeyError(f"{what}: {err.args[0]}; the saved policy knows the {len(self.catalog.movie_ids)} movies "
                           "of the catalogue lesson 04 ran on (rerun it on this dataset)") from None


def _agrees(forward, torch_forward, size: int, seed: int = 0) -> bool:
    """Do the numpy copy and torch agree (to float32 rounding) on random observations, with padded slots?"""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(8, size)).astype(np.float32)
    per = obs[:, forward.user_size :].reshape(8, forward.k, forward.per_candidate)
    per[:, -2:, :] = 0.0  # padded slots take the masked branch
    return bool(np.allclose(forward(obs), torch_forward(obs), rtol=1e-4, atol=1e-4))


def _pad(rows: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((k, rows.shape[1]), dtype=np.float32)
    out[: len(rows)] = rows
    return out


def load_policy(path: str | Path | None = None) -> LoadedPolicy:
    """Load the best saved policy (``path=None``), a policies folder, or one ``.zip`` in it."""
    path = Path(path) if path is not None else policies_dir()
    folder, file = (path.parent, path.name) if path.suffix == ".zip" else (path, None)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"no policy manifest in the {folder.name!r} folder; run lesson 04 "
                                "(04_rl_dqn_vs_ppo) first")
    manifest = json.loads(manifest_path.read_text())
    file = file or manifest["best"]["file"]
    if file == "best.zip":
        algorithm = manifest["best"]["algorithm"]
    else:
        matches = [e["algorithm"] for e in manifest["policies"].values() if e["file"] == file]
        if not matches:
            raise FileNotFoundError(f"{file} is not listed in the policy manifest; choose one of "
                                    f"{sorted(e['file'] for e in manifest['policies'].values())}")
        algorithm = matches[0]
    from stable_baselines3 import DQN, PPO

    model = {"DQN": DQN, "PPO": PPO}[algorithm].load(folder / file, device="cpu")
    with np.load(folder / manifest["features"]) as f:
        item_features = f["item_features"] if "item_features" in f.files and f["item_features"].shape[1] else None
        catalog = Catalog(f["movie_ids"], f["genres"], [str(g) for g in f["genre_names"]], f["popularity"],
                          item_features)
        projection = TasteProjection(f["pca_mean"], f["pca_components"], f["pca_scale"])
        item_vectors = f["item_vectors"]
        if "cf_item_bias" in f.files:  # contract 2: the lesson's own explicit ALS, no longer produced
            raise FileNotFoundError(f"the saved policy in {folder.name!r} predates the candidate generator's "
                                    "features; rerun lesson 04 (04_rl_dqn_vs_ppo)")
        collaborative = CollaborativeModel(f["cf_item_factors"], float(f["cf_regularization"]), float(f["cf_alpha"])) \
            if "cf_item_factors" in f.files else None
    layout = ObservationLayout.from_dict(manifest["observation_layout"])
    return LoadedPolicy(model, algorithm, layout, catalog, projection, item_vectors, manifest, collaborative)


def rank_candidates(policy, state: UserState, candidate_ids: Sequence[int],
                    similarities: Sequence[float] | None = None) -> list[int]:
    """``candidate_ids`` (the generator's order, best first) re-ranked by the policy, with the guard.

    The policy's scores and the generator's order are turned into ranks and blended with
    ``policy.info["policy_weight"]`` (1: the policy's order; 0: the generator's order
    unchanged); ties keep the generator's order. Works with any object that has ``score`` and
    ``info`` (for example ``recsys_utils.testing.rl_policy.StubPolicy``).
    """
    ids = [int(c) for c in candidate_ids]
    if not ids:
        return []
    if len(set(ids)) != len(ids):
        raise ValueError("candidate_ids contains duplicates")
    if similarities is not None and len(similarities) != len(ids):
        raise ValueError(f"{len(similarities)} similarities for {len(ids)} candidates")
    blended = guarded_scores(policy, state, ids, similarities)
    return [ids[i] for i in np.argsort(-blended, kind="stable")]


def guarded_scores(policy, state: UserState, candidate_ids: Sequence[int],
                   similarities: Sequence[float] | None = None) -> np.ndarray:
    """One score per candidate (higher is better, ``candidate_ids`` in the generator's order) that
    applies the guard: minus the blend of the policy's rank and the generator's rank, weighted by
    ``policy.info["policy_weight"]`` (chosen on validation users' held-out likes). The service
    ranks by these, so serving can never spoil the retrieval more than validation allowed."""
    ids = np.asarray(candidate_ids, dtype=np.int64).ravel()
    order = np.arange(ids.size, dtype=np.float64)
    weight = float(policy.info.get("policy_weight", 1.0))
    if weight <= 0.0 or not ids.size:
        return -order
    scores = np.asarray(policy.score(state, ids, similarities), dtype=np.float64)[0]
    policy_rank = np.argsort(np.argsort(-scores, kind="stable"), kind="stable")
    return -(weight * policy_rank + (1.0 - weight) * order)
