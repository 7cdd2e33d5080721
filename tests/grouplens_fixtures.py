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
