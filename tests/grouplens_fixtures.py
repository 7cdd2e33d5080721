"""Tiny datasets written in the real GroupLens (and RecBole) file formats."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shared_dataset(name: str = "ml-latest-small") -> Path:
    """The real GroupLens copy in ``../shared/datasets/`` beside the repository (CI clones next to a
    copy of ``shared/``); ``RECSYS_SHARED_DIR`` points elsewhere (a worktree one level deeper)."""
    shared = Path(os.environ.get("RECSYS_SHARED_DIR") or ROOT.parent / "shared")
    return shared / "datasets" / name

ML100K_ITEMS = [
    # id|title|release|video|imdb url|19 flags (unknown, Action, ..., Western)
    "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0",
    "12|Usual Suspects, The (1995)|14-Aug-1995||http://us.imdb.com/M/title-exact?Usual%20Suspects,%20The%20(1995)|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|1|0|0",
    "267|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0",
    "1373|Good Morning (1971)|4-Feb-1971||http://us.imdb.com/M/title-exact?Good%20Morning%20(1971)|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0",
    "179|Clockwork Orange, A (1971)|01-Jan-1971||http://us.imdb.com/M/title-exact?Clockwork%20Orange,%20A%20(1971)|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0|0",
    "1300|'Til There Was You (1997)|01-Jan-1997||http://us.imdb.com/M/title-exact?'Til%20There%20Was%20You%20(1997)|0|0|0|0|0|0|0|0|1|0|0|0|0|0|1|0|0|0|0",
    "1680|Sliding Doors (1998)|01-Jan-1998||http://us.imdb.com/Title?Sliding+Doors+(1998)|0|0|0|0|0|0|0|0|1|0|0|0|0|0|1|0|0|0|0",
]
ML100K_DATA = ["196\t1\t3\t881250949", "186\t12\t3\t891717742", "22\t179\t1\t878887116",
               "196\t1680\t4\t881251000", "22\t1\t5\t878887000", "186\t1300\t2\t891717800"]
ML100K_USERS = ["22|25|M|writer|40206", "186|39|F|executive|00000", "196|49|M|writer|55105"]


def write_ml100k(folder: Path, items=ML100K_ITEMS, data=ML100K_DATA) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    (folder / "u.data").write_text("\n".join(data) + "\n")
    (folder / "u.user").write_text("\n".join(ML100K_USERS) + "\n")
    (folder / "README").write_text("MovieLens 100K fixture\n")
    return folder


def write_ml1m(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.dat").write_bytes(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "2::Jumanji (1995)::Adventure|Children's|Fantasy\n"
        "73::Misérables, Les (1995)::Drama|Musical\n".encode("latin-1")
    )
    (folder / "ratings.dat").write_text("1::1::5::978300760\n1::73::3::978302109\n2::2::4::978298413\n")
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    return folder


def write_csv(folder: Path) -> Path:
    """ml-latest-small's layout: quoted titles with commas, pipe genres, links and tags."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '11,"American President, The (1995)",Comedy|Drama|Romance\n'
        "5618,Spirited Away (Sen to Chihiro no kamikakushi) (2001),Adventure|Animation|Fantasy\n"
        "143410,Hyena Road,(no genres listed)\n"
        '171749,"Death Note: Desu nôto (2006–2007)",(no genres listed)\n',
        encoding="utf-8",
    )
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,11,3.5,964981247\n2,5618,5.0,1445714994\n2,143410,0.5,1445715000\n3,171749,4.5,1500000000\n"
    )
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n11,0112346,9087\n5618,0245429,129\n143410,3277624,\n171749,0877057,13916\n")
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n2,5618,Studio Ghibli,1445714994\n2,11,\"politics, romance\",1445714995\n")
    (folder / "README.txt").write_text("fixture\n")
    return folder


def write_recbole(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ml-100k.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t1\t3\t881250949\n186\t12\t3\t891717742\n196\t267\t4\t881251000\n"
    )
    (folder / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "1\tToy Story\t1995\tAnimation Children's Comedy\n12\tUsual Suspects, The\t1995\tCrime Thriller\n267\tunkonwn\tunkonwn\tunknown\n"
    )
    (folder / "ml-100k.user").write_text(
        "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n186\t39\tF\texecutive\t00000\n196\t49\tM\twriter\t55105\n"
    )
    return folder


# Titles the lessons named before issue 10 (and the design's Inception example): the synthetic
# catalogue below holds none of them, so a lesson that still hard-codes one fails on it.
HARD_CODED_TITLES = (
    "Star Wars", "Toy Story", "Fargo", "Titanic", "Usual Suspects", "Inception", "Interstellar", "Heat",
    "Pulp Fiction", "Godfather", "Return of the Jedi", "Contact", "Scream", "Liar Liar", "English Patient",
)
ML1M_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
_ADJECTIVES = (
    "Silver", "Hollow", "Crimson", "Quiet", "Burning", "Frozen", "Golden", "Broken", "Hidden", "Electric",
    "Velvet", "Distant", "Bitter", "Restless", "Paper", "Iron", "Lonely", "Savage", "Gentle", "Midnight",
    "Northern", "Painted", "Endless", "Wicked", "Copper", "Secret", "Falling", "Scarlet", "Wandering", "Last",
)
_NOUNS = (
    "Harbor", "Orchard", "Lantern", "Meridian", "Canyon", "Parade", "Signal", "Tide", "Garden", "Frontier",
    "Citadel", "Compass", "Monsoon", "Carnival", "Ledger", "Voyage", "Archive", "Furnace", "Mirror", "Prairie",
    "Beacon", "Labyrinth", "Saloon", "Nocturne", "Railway", "Glacier", "Verdict", "Alibi", "Kingdom", "Orbit",
)
_SUFFIXES = ("", ", The", ", A", " Returns", " of the North", " II", ": Origins", " in Winter", "s", " Blues")


def write_synthetic_ml1m(
    folder: Path, n_ratings: int = 50_000, n_users: int = 600, n_movies: int = 1_200, n_catalogue: int | None = None,
    n_dangling: int = 5, seed: int = 0,
) -> Path:
    """An ml-1m-format dataset (``::`` .dat files, latin-1) with synthetic titles and real structure.

    Users prefer a genre, popularity follows a Zipf curve, every user has at least 20 ratings (about
    93% of ``n_ratings`` are distinct pairs and kept),
    ``n_catalogue - n_movies`` catalogue movies have no rating and ``n_dangling`` ratings refer to
    movies missing from ``movies.dat``. Written with pandas and numpy: 1M ratings take about a second.
    """
    import itertools

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_catalogue = n_catalogue or n_movies + max(1, n_movies // 20)
    combos = list(itertools.product(_ADJECTIVES, _NOUNS, _SUFFIXES))
    if n_catalogue > len(combos):
        raise ValueError(f"at most {len(combos)} synthetic titles")
    picks = rng.permutation(len(combos))[:n_catalogue]
    years = rng.integers(1920, 2001, size=n_catalogue)
    titles = [f"{a} {n}{s} ({y})" for (a, n, s), y in zip((combos[i] for i in picks), years, strict=True)]
    main_genre = rng.integers(0, len(ML1M_GENRES), size=n_catalogue)
    genres = []
    for g in main_genre:
        extra = rng.choice(len(ML1M_GENRES), size=rng.integers(0, 3), replace=False)
        genres.append("|".join(ML1M_GENRES[i] for i in dict.fromkeys([int(g), *map(int, extra)])))
    movie_ids = np.sort(rng.choice(np.arange(1, 4 * n_catalogue), size=n_catalogue, replace=False))
    rated = rng.permutation(n_catalogue)[:n_movies]  # indexes of the movies that get ratings
    popularity = 1.0 / np.arange(1, n_movies + 1) ** 0.9
    popularity = popularity[rng.permutation(n_movies)]
    # Ratings per user: at least 20, heavy-tailed, summing to about n_ratings, at most half the movies.
    share = 1.0 + rng.pareto(1.5, size=n_users)
    per_user = np.clip(np.round(share / share.sum() * n_ratings), 20, n_movies // 2).astype(np.int64)
    favourite = rng.integers(0, len(ML1M_GENRES), size=n_users)
    # Sample with replacement from each favourite genre's popularity curve (vectorised inverse CDF),
    # oversampled, then keep each user's first distinct movies up to their count.
    draws = np.repeat(np.arange(n_users), 3 * per_user)
    chosen = np.empty(draws.size, dtype=np.int64)
    for genre in range(len(ML1M_GENRES)):
        rows = np.flatnonzero(favourite[draws] == genre)
        weight = popularity * np.where(main_genre[rated] == genre, 4.0, 1.0)
        cdf = np.cumsum(weight) / weight.sum()
        chosen[rows] = np.minimum(np.searchsorted(cdf, rng.random(rows.size)), n_movies - 1)
    pairs = pd.DataFrame({"u": draws, "m": chosen}).drop_duplicates()
    pairs = pairs[pairs.groupby("u").cumcount().to_numpy() < per_user[pairs["u"].to_numpy()]]
    u_idx, m_idx = pairs["u"].to_numpy(), pairs["m"].to_numpy()
    liking = 3.2 + 1.3 * (main_genre[rated[m_idx]] == favourite[u_idx]) + rng.normal(0, 0.9, size=u_idx.size)
    ratings = pd.DataFrame({
        "u": u_idx + 1, "i": movie_ids[rated[m_idx]], "r": np.clip(np.round(liking), 1, 5).astype(np.int64),
        "t": 956703932 + rng.integers(0, 3 * 10**7, size=u_idx.size),
    })
    if n_dangling:
        ghost = pd.DataFrame({"u": rng.integers(1, n_users + 1, size=n_dangling), "i": 4 * n_catalogue + 1,
                              "r": 4, "t": 1_000_000_000 + np.arange(n_dangling)})
        ratings = pd.concat([ratings.iloc[: -n_dangling], ghost], ignore_index=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.dat").write_bytes(ratings.to_csv(sep="\t", header=False, index=False).replace("\t", "::").encode())
    movies = "".join(f"{m}::{t}::{g}\n" for m, t, g in zip(movie_ids, titles, genres, strict=True))
    (folder / "movies.dat").write_bytes(movies.encode("latin-1"))
    ages = rng.choice([1, 18, 25, 35, 45, 50, 56], size=n_users)
    users_dat = "".join(
        f"{u}::{'MF'[int(rng.integers(2))]}::{a}::{int(rng.integers(0, 21))}::{int(rng.integers(10000, 99999))}\n"
        for u, a in zip(range(1, n_users + 1), ages, strict=True)
    )
    (folder / "users.dat").write_text(users_dat)
    return folder


def write_synthetic_csv(folder: Path, n_movies: int, n_ratings: int, n_users: int = 200, seed: int = 0) -> Path:
    """A ml-latest/ml-25m-format catalogue (CSV, half stars) of synthetic movies, written with pandas."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.arange(1, n_movies + 1)
    genres = np.asarray(ML1M_GENRES)[rng.integers(0, len(ML1M_GENRES), size=n_movies)]
    titles = [f"Synthetic Film {i} ({1950 + i % 70})" for i in ids]
    pd.DataFrame({"movieId": ids, "title": titles, "genres": genres}).to_csv(folder / "movies.csv", index=False)
    pd.DataFrame({
        "userId": rng.integers(1, n_users + 1, size=n_ratings),
        "movieId": rng.integers(1, n_movies + 1, size=n_ratings),
        "rating": rng.integers(1, 11, size=n_ratings) / 2,
        "timestamp": 1_500_000_000 + rng.integers(0, 10**7, size=n_ratings),
    }).drop_duplicates(["userId", "movieId"]).to_csv(folder / "ratings.csv", index=False)
    return folder
