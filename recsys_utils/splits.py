"""Deterministic splits, saved under ``data/processed/<dataset>/``.

* A per-user **temporal holdout** of ratings for retrieval evaluation: each user's latest
  ``holdout_fraction`` of ratings (by timestamp, ties broken by movie id) is held out, so a
  model is always asked to predict the future from the past, as in production.
* A disjoint **train / validation / test split of users** for the RL lesson: an agent is
  trained on some people and judged on people it has never seen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .constants import DEFAULT_SEED, ITEM_COL, TIMESTAMP_COL, USER_COL
from .fileio import atomic_write_json, atomic_write_with, sha256_file
from .paths import processed_dir

SPLIT_VERSION = 1
DEFAULT_HOLDOUT_FRACTION = 0.2
DEFAULT_USER_FRACTIONS = (0.70, 0.15, 0.15)


@dataclass
class Splits:
    train_ratings: pd.DataFrame
    test_ratings: pd.DataFrame
    train_users: np.ndarray
    val_users: np.ndarray
    test_users: np.ndarray
    seed: int
    folder: Path | None = None

    def summary(self) -> dict[str, int]:
        return {
            "train_ratings": len(self.train_ratings),
            "test_ratings": len(self.test_ratings),
            "train_users": len(self.train_users),
            "val_users": len(self.val_users),
            "test_users": len(self.test_users),
        }


def temporal_holdout(
    ratings: pd.DataFrame, holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION, min_train: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each user's ratings in time: the latest ``ceil(n * fraction)`` go to test.

    Every user keeps at least ``min_train`` ratings in train (a user with one rating has
    nothing held out). Deterministic: no randomness is involved.
    """
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"holdout_fraction must be between 0 and 1, got {holdout_fraction}")
    ordered = ratings.sort_values([USER_COL, TIMESTAMP_COL, ITEM_COL], kind="stable")
    position = ordered.groupby(USER_COL, sort=False).cumcount().to_numpy()
    count = ordered.groupby(USER_COL, sort=False)[ITEM_COL].transform("size").to_numpy()
    n_test = np.minimum(np.ceil(count * holdout_fraction).astype(int), np.maximum(count - min_train, 0))
    is_test = position >= count - n_test
    return ordered[~is_test].reset_index(drop=True), ordered[is_test].reset_index(drop=True)


def split_users(
    user_ids, fractions: tuple[float, float, float] = DEFAULT_USER_FRACTIONS, seed: int = DEFAULT_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the unique users with ``seed`` and cut them into disjoint train/val/test sets."""
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    users = np.unique(np.asarray(user_ids))
    shuffled = np.random.default_rng(seed).permutation(users)
    n_train = int(round(fractions[0] * len(users)))
    n_val = int(round(fractions[1] * len(users)))
    train, val, test = np.split(shuffled, [n_train, n_train + n_val])
    return np.sort(train), np.sort(val), np.sort(test)


def make_splits(
    ratings: pd.DataFrame,
    seed: int = DEFAULT_SEED,
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
    user_fractions: tuple[float, float, float] = DEFAULT_USER_FRACTIONS,
) -> Splits:
    train, test = temporal_holdout(ratings, holdout_fraction)
    train_users, val_users, test_users = split_users(ratings[USER_COL], user_fractions, seed)
    return Splits(train, test, train_users, val_users, test_users, seed)


def load_splits(
    data,
    seed: int = DEFAULT_SEED,
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
    user_fractions: tuple[float, float, float] = DEFAULT_USER_FRACTIONS,
) -> Splits:
    """The splits of ``data`` (a ``MovieLens``), read from disk when the same ones were saved.

    The manifest records the parameters and the dataset's checksums; any difference (another
    seed, a changed dataset, a damaged file) rebuilds and rewrites the splits.
    """
    params = {
        "version": SPLIT_VERSION,
        "dataset": data.name,
        "dataset_checksums": data.checksums,
        "seed": seed,
        "holdout_fraction": holdout_fraction,
        "user_fractions": list(user_fractions),
    }
    folder = processed_dir() / data.name / f"splits-seed{seed}"
    cached = _read_saved(folder, params)
    if cached is not None:
        return cached
    splits = make_splits(data.ratings, seed, holdout_fraction, user_fractions)
    save_splits(splits, folder, params)
    splits.folder = folder
    return splits


def save_splits(splits: Splits, folder: Path, params: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    users = pd.DataFrame(
        {
            USER_COL: np.concatenate([splits.train_users, splits.val_users, splits.test_users]),
            "role": ["train"] * len(splits.train_users) + ["val"] * len(splits.val_users) + ["test"] * len(splits.test_users),
        }
    )
    frames = {"train_ratings.parquet": splits.train_ratings, "test_ratings.parquet": splits.test_ratings, "users.parquet": users}
    checksums = {}
    for name, frame in frames.items():
        atomic_write_with(folder / name, lambda tmp, f=frame: f.to_parquet(tmp, index=False))
        checksums[name] = sha256_file(folder / name)
    # The manifest is written last: its presence means every file above is complete.
    atomic_write_json(folder / "manifest.json", {"params": params, "files": checksums, "summary": splits.summary()})


def _read_saved(folder: Path, params: dict) -> Splits | None:
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest["params"] != json.loads(json.dumps(params)):
            return None
        for name, expected in manifest["files"].items():
            if sha256_file(folder / name) != expected:
                return None
        users = pd.read_parquet(folder / "users.parquet")
        role = users["role"].to_numpy()
        ids = users[USER_COL].to_numpy()
        return Splits(
            train_ratings=pd.read_parquet(folder / "train_ratings.parquet"),
            test_ratings=pd.read_parquet(folder / "test_ratings.parquet"),
            train_users=ids[role == "train"],
            val_users=ids[role == "val"],
            test_users=ids[role == "test"],
            seed=params["seed"],
            folder=folder,
        )
    except (OSError, ValueError, KeyError):
        return None
