"""Source resolution: cache, local source, verified downloads, the packaged copy, and errors."""

import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest

from recsys_utils.data import DataSourceError, load_movielens, registry, sources
from recsys_utils.data.sources import OFFLINE_ENV, SourceFailed, download_verified
from tests.grouplens_fixtures import write_ml100k


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(sources.SOURCE_ENV, raising=False)


@pytest.fixture
def file_server(tmp_path):
    """A loopback HTTP server over a folder, standing in for GroupLens."""
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_is_verified_by_size_and_sha256(file_server, tmp_path):
    root, base = file_server
    payload = b"ratings" * 1000
    (root / "x.zip").write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()
    target = tmp_path / "dl" / "x.zip"
    download_verified(f"{base}/x.zip", target, good, len(payload))
    assert target.read_bytes() == payload
    with pytest.raises(SourceFailed, match="sha256"):
        download_verified(f"{base}/x.zip", tmp_path / "dl" / "y.zip", "0" * 64, len(payload))
    with pytest.raises(SourceFailed, match="partial or changed"):
        download_verified(f"{base}/x.zip", tmp_path / "dl" / "z.zip", good, len(payload) + 5)
    # Nothing half-written is left behind by the failed attempts.
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["x.zip"]


def test_grouplens_zip_is_downloaded_checked_and_cached(file_server, tmp_path, monkeypatch):
    import shutil

    root, base = file_server
    write_ml100k(tmp_path / "src" / "ml-100k")
    archive = shutil.make_archive(str(root / "ml-100k"), "zip", tmp_path / "src")
    data_bytes = Path(archive).read_bytes()
    spec = registry.DatasetSpec(
        name="ml-100k", url=f"{base}/ml-100k.zip", zip_sha256=hashlib.sha256(data_bytes).hexdigest(),
        zip_size=len(data_bytes), format="ml-100k", folder_in_zip="ml-100k", description="fixture",
    )
    monkeypatch.setitem(registry.DATASETS, "ml-100k", spec)
    data = load_movielens("ml-100k")
    assert data.source == "grouplens:ml-100k.zip" and data.source_kind == "grouplens" and len(data.ratings) == 6
    assert [a.ok for a in data.attempts] == [False, True]
    # The second load is served by the cache, verified by the manifest's checksums.
    again = load_movielens("ml-100k")
    assert again.attempts[0].ok and again.attempts[0].source.startswith("cache")
    assert again.source_kind == "cache" and again.origin_kind == "grouplens"


def test_corrupt_cache_is_detected_and_fetched_again(tmp_path, monkeypatch):
    monkeypatch.setenv(OFFLINE_ENV, "1")
    source = write_ml100k(tmp_path / "src")
    load_movielens("ml-100k", source=source)
    cached = sources.cache_folder("ml-100k") / "u.data"
    cached.write_text(cached.read_text()[:20])  # truncated, as after a crash or a bad copy
    data = load_movielens("ml-100k", source=source)
    assert "corrupt" in data.attempts[0].detail and not data.attempts[0].ok
    assert data.attempts[1].ok and len(data.ratings) == 6


def test_every_source_failing_names_each_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(OFFLINE_ENV, "1")
    monkeypatch.setenv("RECSYS_OFFLINE_DIR", str(tmp_path / "no-offline-assets"))
    with pytest.raises(DataSourceError) as caught:
        load_movielens("ml-100k", source=tmp_path / "nowhere")
    message = str(caught.value)
    assert "no cached copy" in message
    assert "nowhere does not exist" in message
    assert "skipped the GroupLens download of ml-100k.zip because RECSYS_OFFLINE is set" in message
    assert "recbole==1.2.1 is not in no-offline-assets/" in message
    # Each skipped source says how to provide it.
    assert "to provide it: run `python -m recsys_utils.assets fetch` (or `make venv`)" in message
    assert "to provide it: download https://" in message
    assert "What you can do" in message and "RECSYS_MOVIELENS_SOURCE" in message
    assert len(caught.value.attempts) == 4


def test_source_from_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(OFFLINE_ENV, "1")
    monkeypatch.setenv(sources.SOURCE_ENV, str(write_ml100k(tmp_path / "env-src")))
    data = load_movielens("ml-100k")
    # The kind and the folder's name only: the report and the notebooks never show a path.
    assert data.source == "local-folder:env-src" and str(tmp_path) not in repr(data)


def test_zip_with_unsafe_member_is_refused(tmp_path, monkeypatch):
    import zipfile

    monkeypatch.setenv(OFFLINE_ENV, "1")
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("../escape/u.data", "1\t1\t5\t1\n")
    with pytest.raises(DataSourceError, match="unsafe member"):
        load_movielens("ml-1m", source=bad)


def test_packaged_copy_from_the_recbole_wheel(monkeypatch):
    """The offline path this workplace relies on: ml-100k out of the recbole wheel, checked."""
    monkeypatch.setenv(OFFLINE_ENV, "1")
    data = load_movielens("ml-100k")
    assert data.source == "packaged-wheel:recbole==1.2.1" and data.checksums_verified
    assert (len(data.ratings), data.ratings.user_id.nunique(), len(data.movies)) == (100_000, 943, 1682)
    assert data.checksums == registry.RECBOLE_ML100K.files
    assert data.movies.set_index("movie_id").loc[12, "title"] == "The Usual Suspects"


def test_a_cache_written_before_source_kinds_reports_a_kind_not_a_path(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv(OFFLINE_ENV, "1")
    load_movielens("ml-100k", source=write_ml100k(tmp_path / "ml-100k"))
    manifest_path = sources.cache_folder("ml-100k") / sources.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["source"] = f"local:{tmp_path / 'ml-100k'}"  # the old form
    del manifest["source_key"]
    manifest_path.write_text(json.dumps(manifest))
    data = load_movielens("ml-100k")
    assert data.source_kind == "cache" and data.source == "local-folder:ml-100k"
