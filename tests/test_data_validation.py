"""Bad data never passes silently and never poisons the cache; checksums and zip caps."""

import hashlib
import logging
import shutil
import zipfile
from pathlib import Path

import pytest

from recsys_utils.data import DataSourceError, ParseError, load_movielens, registry, sources
from recsys_utils.data.sources import OFFLINE_ENV
from tests.grouplens_fixtures import ML100K_DATA, shared_dataset, write_csv, write_ml1m, write_ml100k

SHARED_SMALL = shared_dataset("ml-latest-small")


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(OFFLINE_ENV, "1")
    monkeypatch.delenv(sources.SOURCE_ENV, raising=False)


def _bad_udata(tmp_path, line, at=2):
    rows = list(ML100K_DATA)
    rows.insert(at, line)
    return write_ml100k(tmp_path / "bad", data=rows)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("196\t1", "has too few fields: the rating and the fields after it are missing"),
        ("5.7\t1\t3\t881250949", "the user id '5.7' is not an integer"),
        ("196\tabc\t3\t881250949", "the movie id 'abc' is not an integer"),
        ("196\t1\t99\t881250949", "the rating '99' is outside the scale 1-5 in steps of 1"),
        ("196\t1\t-3\t881250949", "the rating '-3' is outside the scale 1-5 in steps of 1"),
        ("196\t1\t3.5\t881250949", "the rating '3.5' is outside the scale 1-5 in steps of 1"),
        ("196\t1\t3\t", "has too few fields: the timestamp is missing"),
        ("196\t1\t3\t881250949\t7", "has 5 fields, expected 4"),
    ],
)
def test_a_malformed_udata_line_is_named_with_what_to_do(tmp_path, line, problem):
    folder = _bad_udata(tmp_path, line)
    with pytest.raises(ParseError) as caught:
        load_movielens("ml-100k", source=folder)
    message = str(caught.value)
    assert f"{folder}/u.data line 3: {problem}" in message
    assert "fix or delete that line" in message and caught.value.line == 3
    # Nothing was cached: the bad copy cannot be served later.
    assert not sources.cache_folder("ml-100k").exists()
    assert [p.name for p in sources.cache_folder("ml-100k").parent.iterdir()] == []


def test_a_first_line_with_an_extra_field_is_not_taken_as_an_index(tmp_path):
    folder = _bad_udata(tmp_path, "196\t1\t3\t881250949\t7", at=0)
    with pytest.raises(ParseError, match="u.data line 1: has more fields than the 4 expected"):
        load_movielens("ml-100k", source=folder)


def test_line_numbers_count_blank_lines(tmp_path):
    folder = write_ml100k(tmp_path / "blank", data=[ML100K_DATA[0], "", "", "1\t1\t7\t1"])
    with pytest.raises(ParseError, match="u.data line 4: the rating '7' is outside"):
        load_movielens("ml-100k", source=folder)


def test_half_star_scale_of_the_csv_datasets(tmp_path):
    folder = write_csv(tmp_path / "small")
    ratings = folder / "ratings.csv"
    ratings.write_text(ratings.read_text() + "4,1,5.5,1500000001\n")
    with pytest.raises(ParseError, match=r"ratings.csv line 7: the rating '5.5' is outside the scale 0.5-5 in steps of 0.5"):
        load_movielens("ml-latest-small", source=folder)


def test_ml1m_dat_errors_name_the_line(tmp_path):
    folder = write_ml1m(tmp_path / "ml-1m")
    (folder / "ratings.dat").write_text("1::1::5::978300760\n1::73::3\n")
    with pytest.raises(ParseError, match="ratings.dat line 2: has too few fields: the timestamp is missing"):
        load_movielens("ml-1m", source=folder)
    folder = write_ml1m(tmp_path / "ml-1m-b")
    (folder / "movies.dat").write_bytes(b"1::Toy Story (1995)::Animation\n2::Jumanji (1995)\n")
    with pytest.raises(ParseError, match="movies.dat line 2: has 2 fields, expected 3"):
        load_movielens("ml-1m", source=folder)


def test_duplicated_movie_ids_are_refused(tmp_path):
    folder = write_csv(tmp_path / "dup")
    movies = folder / "movies.csv"
    movies.write_text(movies.read_text() + "11,Another Film (2001),Drama\n")
    with pytest.raises(ParseError, match="movies.csv line 7: movie id 11 repeats line 3"):
        load_movielens("ml-latest-small", source=folder)


def test_an_incomplete_source_never_becomes_the_cache(tmp_path):
    good = write_ml100k(tmp_path / "good")
    assert len(load_movielens("ml-100k", source=good).ratings) == 6
    before = (sources.cache_folder("ml-100k") / sources.MANIFEST).read_text()
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    shutil.copy(good / "u.data", incomplete / "u.data")  # no u.item: an interrupted copy
    with pytest.raises(ParseError, match="lacks u.item"):
        load_movielens("ml-100k", source=incomplete)
    # The earlier cache is untouched and no staging folder is left behind.
    assert (sources.cache_folder("ml-100k") / sources.MANIFEST).read_text() == before
    assert sorted(p.name for p in sources.cache_folder("ml-100k").parent.iterdir()) == ["ml-100k"]
    assert len(load_movielens("ml-100k", source=good).ratings) == 6


def test_zip_extraction_is_capped_at_the_declared_size(tmp_path, monkeypatch):
    spec = registry.DATASETS["ml-1m"]
    monkeypatch.setitem(registry.DATASETS, "ml-1m", registry.DatasetSpec(**{**spec.__dict__, "max_extracted_bytes": 10_000}))
    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        out.writestr("ml-1m/movies.dat", "1::Toy Story (1995)::Animation\n")
        out.writestr("ml-1m/ratings.dat", "1::1::5::978300760\n" * 2_000)  # 38 kB that deflates to almost nothing
        out.writestr("ml-1m/genome-scores.csv", "x" * 50_000)  # not a file the course reads: never unpacked
    with pytest.raises(DataSourceError, match="would unpack 38,031 bytes of data files, more than the 10,000 declared for ml-1m"):
        load_movielens("ml-1m", source=archive)
    assert not sources.cache_folder("ml-1m").exists()


def test_only_the_dataset_files_are_unpacked(tmp_path):
    write_ml1m(tmp_path / "src" / "ml-1m")
    (tmp_path / "src" / "ml-1m" / "README").write_text("x" * 100)
    archive = shutil.make_archive(str(tmp_path / "ml-1m"), "zip", tmp_path / "src")
    data = load_movielens("ml-1m", source=archive)
    assert sorted(data.checksums) == ["movies.dat", "ratings.dat", "users.dat"]
    assert data.source == "local-zip:ml-1m.zip" and not data.checksums_verified


def test_a_synthetic_copy_is_accepted_with_a_warning_and_its_checksums(tmp_path, caplog):
    folder = write_csv(tmp_path / "ml-latest-small")
    with caplog.at_level(logging.WARNING, logger="recsys_utils.data.sources"):
        data = load_movielens("ml-latest-small", source=folder)
    declared = registry.DATASETS["ml-latest-small"].files["ratings.csv"]
    found = hashlib.sha256((folder / "ratings.csv").read_bytes()).hexdigest()
    assert f"ratings.csv: expected sha256 {declared}, found {found}" in caplog.text
    assert "local-folder:ml-latest-small is not the ml-latest-small release" in caplog.text
    assert "accepted as given" in caplog.text and str(tmp_path) not in caplog.text  # no path in notebook output
    assert data.checksums["ratings.csv"] == found and not data.checksums_verified
    manifest = sources.read_manifest("ml-latest-small")
    assert manifest["verified"] is False and manifest["files"]["ratings.csv"] == found


def test_a_wrong_release_from_grouplens_is_refused_with_both_sha256(tmp_path, monkeypatch):
    """A download (strict) whose files differ from the declared ones: expected and found sha256."""
    import http.server
    import threading
    from functools import partial

    monkeypatch.delenv(OFFLINE_ENV)
    served = tmp_path / "served"
    write_csv(tmp_path / "zip-src" / "ml-latest-small")
    archive = Path(shutil.make_archive(str(served / "ml-latest-small"), "zip", tmp_path / "zip-src"))
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = registry.DATASETS["ml-latest-small"]
        payload = archive.read_bytes()
        monkeypatch.setitem(registry.DATASETS, "ml-latest-small", registry.DatasetSpec(**{
            **spec.__dict__, "url": f"http://127.0.0.1:{server.server_address[1]}/ml-latest-small.zip",
            "zip_sha256": hashlib.sha256(payload).hexdigest(), "zip_size": len(payload)}))
        with pytest.raises(DataSourceError) as caught:
            load_movielens("ml-latest-small")
    finally:
        server.shutdown()
    found = hashlib.sha256((tmp_path / "zip-src" / "ml-latest-small" / "movies.csv").read_bytes()).hexdigest()
    assert f"movies.csv: expected sha256 {spec.files['movies.csv']}, found {found}" in str(caught.value)
    assert not sources.cache_folder("ml-latest-small").exists()


@pytest.mark.skipif(not SHARED_SMALL.exists(), reason=f"the real ml-latest-small is not at {SHARED_SMALL}")
def test_the_real_ml_latest_small_matches_its_published_sha256():
    data = load_movielens("ml-latest-small", source=SHARED_SMALL)
    assert data.checksums_verified and data.source == "local-folder:ml-latest-small"
    assert data.checksums == registry.DATASETS["ml-latest-small"].files
    assert (len(data.ratings), data.ratings.user_id.nunique(), len(data.movies)) == (100_836, 610, 9_742)
    assert data.dangling_ratings == 0 and data.movies.movie_id.isin(data.ratings.movie_id).sum() == 9_724
