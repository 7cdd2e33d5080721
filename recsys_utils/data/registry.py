"""Every dataset the course can load, declared once with its sources, scale, sizes and checksums.

After d2l's ``DATA_HUB``: a dataset is a name, where to get it, and the sha256 of what is
fetched. The GroupLens zips' sizes and sha256 are the ones TensorFlow Datasets records for the
same URLs. Per-file sha256 are declared where they are published (ml-latest-small's
``SHA256SUMS`` of its 2018 release; RecBole's copy of ml-100k): a different release then gets
the expected and the found sha256. ``max_extracted_bytes`` caps what a zip may unpack (the
declared size of the files the course reads, with headroom), so a zip bomb stops early.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GROUPLENS_BASE = "https://files.grouplens.org/datasets/movielens"

# Formats the parsers understand, named after the file that identifies them.
FORMAT_ML100K = "ml-100k"  # u.data / u.item / u.user, tab and pipe separated, latin-1
FORMAT_ML1M = "ml-1m"  # ratings.dat / movies.dat / users.dat, "::" separated, latin-1
FORMAT_CSV = "csv"  # ratings.csv / movies.csv / links.csv / tags.csv (ml-latest-small, ml-20m, ml-25m)
FORMAT_RECBOLE = "recbole"  # RecBole's atomic files: .inter / .item / .user


@dataclass(frozen=True)
class RatingScale:
    """The ratings a dataset allows: ``low`` to ``high`` in steps of ``step`` stars."""

    low: float
    high: float
    step: float

    def describe(self) -> str:
        def star(x: float) -> str:
            return f"{x:g}"

        return f"the scale {star(self.low)}-{star(self.high)} in steps of {star(self.step)}"


WHOLE_STARS = RatingScale(1.0, 5.0, 1.0)  # ml-100k, ml-1m
HALF_STARS = RatingScale(0.5, 5.0, 0.5)  # ml-latest-small, ml-20m, ml-25m


@dataclass(frozen=True)
class PackagedCopy:
    """A copy of a dataset inside a package file declared in ``recsys_utils.assets`` (fetched at install)."""

    asset: str  # the name in recsys_utils.assets.ASSETS
    folder_in_wheel: str
    files: dict[str, str]  # file name -> sha256
    format: str


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    url: str
    zip_sha256: str
    zip_size: int
    format: str
    folder_in_zip: str
    description: str
    packaged: PackagedCopy | None = None
    aliases: tuple[str, ...] = field(default=())
    scale: RatingScale = WHOLE_STARS
    max_extracted_bytes: int = 64 << 20
    # file name -> sha256 of the release the course was measured on, where GroupLens publishes them.
    files: dict[str, str] = field(default_factory=dict)


RECBOLE_ML100K = PackagedCopy(
    asset="recbole",
    folder_in_wheel="recbole/dataset_example/ml-100k",
    files={
        "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
        "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    },
    format=FORMAT_RECBOLE,
)

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="ml-100k",
            url=f"{GROUPLENS_BASE}/ml-100k.zip",
            zip_sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            zip_size=4924029,
            format=FORMAT_ML100K,
            folder_in_zip="ml-100k",
            description="100,000 ratings from 943 users on 1,682 movies (1998), with user demographics",
            packaged=RECBOLE_ML100K,
            scale=WHOLE_STARS,
            max_extracted_bytes=4 << 20,  # u.data 1.98 MB, u.item 0.24 MB, u.user 0.02 MB
        ),
        DatasetSpec(
            name="ml-latest-small",
            url=f"{GROUPLENS_BASE}/ml-latest-small.zip",
            zip_sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            zip_size=978202,
            format=FORMAT_CSV,
            folder_in_zip="ml-latest-small",
            description="about 100,000 ratings and 3,600 tags on 9,700 movies by 610 users (2018 release)",
            scale=HALF_STARS,
            max_extracted_bytes=16 << 20,  # 3.3 MB in the 2018 release
            # SHA256SUMS of the 2018 release (README.txt is not read by the course).
            files={
                "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
                "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
                "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
                "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
            },
        ),
        DatasetSpec(
            name="ml-1m",
            url=f"{GROUPLENS_BASE}/ml-1m.zip",
            zip_sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            zip_size=5917549,
            format=FORMAT_ML1M,
            folder_in_zip="ml-1m",
            description="1,000,209 ratings from 6,040 users on 3,706 rated movies (2000), with demographics",
            scale=WHOLE_STARS,
            max_extracted_bytes=40 << 20,  # ratings.dat 24.6 MB, movies.dat 0.17 MB, users.dat 0.13 MB
        ),
        DatasetSpec(
            name="ml-25m",
            url=f"{GROUPLENS_BASE}/ml-25m.zip",
            zip_sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
            zip_size=261978986,
            format=FORMAT_CSV,
            folder_in_zip="ml-25m",
            description="25 million ratings on 62,000 movies by 162,000 users (2019)",
            scale=HALF_STARS,
            # ratings.csv 678 MB, tags.csv 39 MB, movies.csv 3 MB, links.csv 1.4 MB (genome files are not read)
            max_extracted_bytes=1 << 30,
        ),
    )
}


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown MovieLens dataset {name!r}; choose one of {', '.join(DATASETS)}"
        ) from None
