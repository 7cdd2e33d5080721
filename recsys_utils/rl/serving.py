"""Saved policies for the serving lesson: save, load, and re-rank a candidate list.

Layout under ``artifacts_dir() / "policies"``::

    manifest.json   which policy is best, each policy's algorithm, seed and validation score,
                    the observation layout, K and the simulator settings it was trained on
    features.npz    what is needed to rebuild observations: catalogue genres and popularity,
                    the taste projection and the movie vectors
    dqn.zip ppo.zip the best seed (by validation return) of each algorithm
    best.zip        a copy of whichever of the two scored higher on validation users

The service calls :func:`load_policy` once and :func:`rank_candidates` per request.
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
from .features import ObservationLayout, TasteProjection, build_observation
from .world import Catalog

MANIFEST = "manifest.json"
FEATURES = "features.npz"


def policies_dir() -> Path:
    return artifacts_dir() / "policies"


def save_policies(agent_results: dict, world, layout: ObservationLayout, config, item_vectors: np.ndarray,
                  architecture: str, folder: Path | None = None) -> dict:
    """Copy each algorithm's best-on-validation seed into ``folder`` and write the manifest."""
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
    with atomic_path(folder / FEATURES) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, movie_ids=catalog.movie_ids, genres=catalog.genres, popularity=catalog.popularity,
                 genre_names=np.array(catalog.genre_names), pca_mean=world.projection.mean,
                 pca_components=world.projection.components, pca_scale=world.projection.scale,
                 item_vectors=np.asarray(item_vectors, dtype=np.float32))
    manifest = {
        "best": {"file": "best.zip", "algorithm": winner, "seed": entries[winner]["seed"],
                 "validation_return": entries[winner]["validation_return"]},
        "policies": entries,
        "k": layout.k,
        "observation_layout": layout.as_dict(),
        "architecture": architecture,
        "simulator": config.as_dict(),
        "features": FEATURES,
        "validation": "mean return on the validation users, selected over checkpoints and seeds",
        "rank_with": "recsys_utils.rl.rank_candidates(load_policy(), UserState(...), candidate_ids)",
    }
    atomic_write_json(folder / MANIFEST, manifest)
    return manifest


@dataclass
class UserState:
    """What the service knows about the user at request time.

    ``taste_embedding``: the 384-d MiniLM user vector (``embeddings.user_embeddings``); when
    missing, the mean of the recent movies' vectors is used. ``recent_movie_ids``: the latest
    recommendations or views, most recent last. ``step``, ``last_feedback`` (click, watch, like)
    and ``counts`` (misses, clicks, likes) describe the current session; zeros for a new one.
    """

    taste_embedding: np.ndarray | None = None
    recent_movie_ids: Sequence[int] = ()
    step: int = 0
    last_feedback: tuple[float, float, float] = (0.0, 0.0, 0.0)
    counts: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class LoadedPolicy:
    model: object
    algorithm: str
    layout: ObservationLayout
    catalog: Catalog
    projection: TasteProjection
    item_vectors: np.ndarray
    manifest: dict = field(default_factory=dict)

    def taste_vector(self, state: UserState) -> np.ndarray:
        if state.taste_embedding is not None:
            vector = np.asarray(state.taste_embedding, dtype=np.float32).ravel()
            if vector.shape[0] != self.item_vectors.shape[1]:
                raise ValueError(f"taste_embedding has {vector.shape[0]} dims; the policy expects "
                                 f"{self.item_vectors.shape[1]} (MiniLM)")
        elif len(state.recent_movie_ids):
            vector = self.item_vectors[self.catalog.positions(state.recent_movie_ids)].mean(axis=0)
        else:
            raise ValueError("UserState needs a taste_embedding or some recent_movie_ids to rank for")
        return vector / max(float(np.linalg.norm(vector)), 1e-9)

    def observation(self, state: UserState, slate_ids: Sequence[int], similarities=None) -> tuple[np.ndarray, np.ndarray]:
        """(observation, valid mask) for up to K candidates; missing slots are zero-padded."""
        k = self.layout.k
        if not 0 < len(slate_ids) <= k:
            raise ValueError(f"a slate holds 1..{k} candidates, got {len(slate_ids)}")
        taste = self.taste_vector(state)
        pos = self.catalog.positions(slate_ids)
        sims = (self.item_vectors[pos] @ taste) if similarities is None else np.asarray(similarities, np.float32)
        recent = list(state.recent_movie_ids)[-self.layout.window :]
        window_counts = self.catalog.genres[self.catalog.positions(recent)].sum(axis=0) if recent else \
            np.zeros(self.layout.n_genres, dtype=np.float32)
        valid = np.zeros(k, dtype=bool)
        valid[: len(pos)] = True
        padded = np.zeros(k, dtype=np.int64)
        padded[: len(pos)] = pos
        sim_full = np.zeros(k, dtype=np.float32)
        sim_full[: len(pos)] = sims
        obs = build_observation(
            self.layout, self.projection.transform(taste[None])[0], window_counts,
            np.asarray(state.last_feedback, np.float32), np.asarray(state.counts, np.float32), state.step,
            sim_full, self.catalog.popularity[padded], self.catalog.genres[padded], cand_valid=valid,
        )
        return obs, valid

    def action_scores(self, observation: np.ndarray) -> np.ndarray:
        """Q-values (DQN) or action log-probabilities (PPO): higher means preferred."""
        import torch

        with torch.no_grad():
            obs = torch.as_tensor(observation[None], dtype=torch.float32)
            if self.algorithm == "DQN":
                return self.model.q_net(obs)[0].numpy()
            logits = self.model.policy.get_distribution(obs).distribution.logits
            return torch.log_softmax(logits, dim=-1)[0].numpy()


def load_policy(path: str | Path | None = None) -> LoadedPolicy:
    """Load the best saved policy (``path=None``), a policies folder, or one ``.zip`` in it."""
    path = Path(path) if path is not None else policies_dir()
    folder, file = (path.parent, path.name) if path.suffix == ".zip" else (path, None)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"no policy manifest at {manifest_path}; run lesson 04 (04_rl_dqn_vs_ppo) first")
    manifest = json.loads(manifest_path.read_text())
    file = file or manifest["best"]["file"]
    if file == "best.zip":
        algorithm = manifest["best"]["algorithm"]
    else:
        matches = [e["algorithm"] for e in manifest["policies"].values() if e["file"] == file]
        if not matches:
            raise FileNotFoundError(f"{file} is not listed in {manifest_path}")
        algorithm = matches[0]
    from stable_baselines3 import DQN, PPO

    model = {"DQN": DQN, "PPO": PPO}[algorithm].load(folder / file, device="cpu")
    with np.load(folder / manifest["features"]) as f:
        catalog = Catalog(f["movie_ids"], f["genres"], [str(g) for g in f["genre_names"]], f["popularity"])
        projection = TasteProjection(f["pca_mean"], f["pca_components"], f["pca_scale"])
        item_vectors = f["item_vectors"]
    lay = manifest["observation_layout"]
    layout = ObservationLayout(lay["taste_dim"], lay["n_genres"], lay["k"], lay["window"], lay["max_steps"])
    return LoadedPolicy(model, algorithm, layout, catalog, projection, item_vectors, manifest)


def rank_candidates(policy: LoadedPolicy, state: UserState, candidate_ids: Sequence[int],
                    similarities: Sequence[float] | None = None) -> list[int]:
    """The policy's ranking of ``candidate_ids`` (given in retrieval order, best first).

    Mirrors the environment: the policy sees the first K not-yet-placed candidates, its top
    choice takes the next rank, and the slate refills from the rest. ``similarities`` (the
    vector store's scores, aligned with ``candidate_ids``) are used when given; otherwise they
    are recomputed from the saved movie vectors.
    """
    remaining = [int(c) for c in candidate_ids]
    if len(set(remaining)) != len(remaining):
        raise ValueError("candidate_ids contains duplicates")
    sims = None if similarities is None else [float(s) for s in similarities]
    if sims is not None and len(sims) != len(remaining):
        raise ValueError(f"{len(sims)} similarities for {len(remaining)} candidates")
    ranking = []
    while remaining:
        slate = remaining[: policy.layout.k]
        obs, valid = policy.observation(state, slate, None if sims is None else sims[: len(slate)])
        scores = np.where(valid, policy.action_scores(obs), -np.inf)
        choice = int(np.argmax(scores))
        ranking.append(remaining.pop(choice))
        if sims is not None:
            sims.pop(choice)
    return ranking
