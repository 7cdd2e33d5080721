"""A damaged local index is caught at open with one clear error (CorruptIndexError), and the
movie index is rebuilt from the data when that happens."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recsys_utils.movie_index import index_movies
from recsys_utils.vectorstore import CorruptIndexError, VectorStoreError, open_store
from recsys_utils.vectorstore.local import FORMAT_VERSION, _info_checksum

DIM = 8


def _build(tmp_path, name: str = "movies", n: int = 12, namespaces=("",)):
    store = open_store("local", name=name, dimension=DIM, path=tmp_path)
    rng = np.random.default_rng(0)
    for namespace in namespaces:
        store.upsert(
            [(str(i), rng.normal(size=DIM), {"title": f"Movie {i}"}) for i in range(n)], namespace=namespace
        )
    store.set_manifest({"content_hash": "abc"})
    return store, tmp_path / name


def _open(tmp_path, name: str = "movies"):
    return open_store("local", name=name, dimension=DIM, path=tmp_path)


def _npz(folder):
    (path,) = folder.glob("ns-*.npz")
    return path


def _rewrite_info(folder, change) -> None:
    """Edit store.json and re-seal it, as a consistent (but wrong) writer would."""
    info = json.loads((folder / "store.json").read_text())
    change(info)
    info["sha256"] = _info_checksum(info)
    (folder / "store.json").write_text(json.dumps(info))


def test_store_json_records_checksums_and_a_clean_store_opens(tmp_path):
    store, folder = _build(tmp_path)
    info = json.loads((folder / "store.json").read_text())
    assert info["format"] == FORMAT_VERSION and info["sha256"] == _info_checksum(info)
    (entry,) = info["namespaces"].values()
    assert entry["sha256"] == hashlib.sha256(_npz(folder).read_bytes()).hexdigest() and entry["count"] == 12
    reopened = _open(tmp_path)
    assert reopened.count() == 12 and reopened.get_manifest() == {"content_hash": "abc"}
    assert reopened.query(store.fetch(["3"])["3"].vector, top_k=1)[0].id == "3"


def _truncate(folder):
    path = _npz(folder)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_byte(folder):
    path = _npz(folder)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("damage", "file", "problem"),
    [
        (_truncate, "ns-", "does not match the sha256 recorded in store.json"),
        (_flip_byte, "ns-", "does not match the sha256 recorded in store.json"),
        (lambda folder: _npz(folder).unlink(), "ns-", "is missing"),
        (lambda folder: (folder / "store.json").write_text('{"format": 2, "dimen'), "store.json", "cannot be read as JSON"),
        (lambda folder: (folder / "store.json").write_bytes(b"\xff\xfe\x00garbage"), "store.json", "cannot be read as JSON"),
        (lambda folder: (folder / "store.json").write_text("[1, 2]"), "store.json", "not an object"),
        (
            lambda folder: (folder / "store.json").write_text(
                (folder / "store.json").read_text().replace('"count": 12', '"count": 11')
            ),
            "store.json",
            "does not match its own sha256",
        ),
    ],
    ids=["truncated-npz", "flipped-byte", "missing-npz", "truncated-json", "not-utf8-json", "json-list", "edited-json"],
)
def test_damage_raises_corrupt_index_error_naming_the_file(tmp_path, damage, file, problem):
    _, folder = _build(tmp_path)
    damage(folder)
    with pytest.raises(CorruptIndexError) as info:
        _open(tmp_path)
    error = info.value
    assert isinstance(error, VectorStoreError) and error.file.startswith(file) and problem in str(error)
    assert str(folder) in str(error) and "Build the index again" in str(error)


def _seal_namespace(folder, ids, vectors, metadata, count=None) -> None:
    """Write a namespace file with a matching checksum: only the content checks can catch it."""
    buffer = io.BytesIO()
    payload = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(buffer, ids=np.asarray(ids, dtype=str), vectors=np.asarray(vectors, dtype=np.float32), metadata=payload)
    path = _npz(folder)
    path.write_bytes(buffer.getvalue())

    def change(info):
        (entry,) = info["namespaces"].values()
        entry["sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
        entry["count"] = len(ids) if count is None else count

    _rewrite_info(folder, change)


def _unit(n):
    rows = np.random.default_rng(1).normal(size=(n, DIM))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("ids", "vectors", "metadata", "problem"),
    [
        (["1", "2", "3"], _unit(2), [{}, {}, {}], "3 ids, 2 vectors and 3 metadata entries"),
        (["1", "2"], _unit(2), [{}], "2 ids, 2 vectors and 1 metadata entries"),
        (["1", "1"], _unit(2), [{}, {}], "the same id twice"),
        (["1", "2"], np.full((2, DIM), np.nan), [{}, {}], "NaN or infinite"),
        (["1", "2"], 3 * _unit(2), [{}, {}], "not of unit length"),
        (["1", "2"], _unit(2)[:, :4], [{}, {}], "not (n, 8) float32"),
        (["1", "2"], _unit(2), {"a": 1}, "not a list of JSON objects"),
    ],
    ids=["ids-vs-vectors", "metadata-short", "duplicate-id", "nan", "not-unit", "wrong-dimension", "metadata-dict"],
)
def test_inconsistent_content_is_caught_even_with_valid_checksums(tmp_path, ids, vectors, metadata, problem):
    _, folder = _build(tmp_path)
    _seal_namespace(folder, ids, vectors, metadata)
    with pytest.raises(CorruptIndexError, match=re.escape(problem)):
        _open(tmp_path)


def test_count_in_store_json_must_match_the_file(tmp_path):
    _, folder = _build(tmp_path)
    _seal_namespace(folder, ["1", "2"], _unit(2), [{}, {}], count=3)
    with pytest.raises(CorruptIndexError, match="holds 2 records; store.json says 3"):
        _open(tmp_path)


def test_store_json_cannot_point_outside_the_store(tmp_path):
    _, folder = _build(tmp_path)

    def change(info):
        (entry,) = info["namespaces"].values()
        entry["file"] = "../../elsewhere.npz"

    _rewrite_info(folder, change)
    with pytest.raises(CorruptIndexError, match="as the file of namespace"):
        _open(tmp_path)


def test_newer_format_is_refused_as_such(tmp_path):
    _, folder = _build(tmp_path)
    _rewrite_info(folder, lambda info: info.update(format=FORMAT_VERSION + 1))
    with pytest.raises(VectorStoreError, match="newer version") as info:
        _open(tmp_path)
    assert not isinstance(info.value, CorruptIndexError)


def _as_format_1(folder) -> None:
    info = json.loads((folder / "store.json").read_text())
    legacy = {k: v for k, v in info.items() if k != "sha256"}
    legacy["format"] = 1
    legacy["namespaces"] = {ns: entry["file"] for ns, entry in info["namespaces"].items()}
    (folder / "store.json").write_text(json.dumps(legacy))


def test_format_1_store_opens_and_gains_checksums(tmp_path):
    _, folder = _build(tmp_path, namespaces=("", "other"))
    _as_format_1(folder)
    store = _open(tmp_path)
    assert store.stats()["namespaces"] == {"": 12, "other": 12}
    info = json.loads((folder / "store.json").read_text())
    assert info["format"] == FORMAT_VERSION and all("sha256" in e for e in info["namespaces"].values())
    _flip_byte_of(folder, next(iter(folder.glob("ns-*.npz"))))
    with pytest.raises(CorruptIndexError, match="sha256"):
        _open(tmp_path)


def _flip_byte_of(folder, path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_format_1_store_with_a_truncated_file_is_corrupt_not_bad_zip(tmp_path):
    _, folder = _build(tmp_path)
    _as_format_1(folder)
    _truncate(folder)
    with pytest.raises(CorruptIndexError, match="cannot be read"):
        _open(tmp_path)


def test_discard_then_reopen_gives_an_empty_store(tmp_path):
    _, folder = _build(tmp_path)
    (folder / "notes.txt").write_text("not ours")
    _truncate(folder)
    with pytest.raises(CorruptIndexError) as info:
        _open(tmp_path)
    info.value.discard()
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # only the store's own files go
    assert _open(tmp_path).count() == 0


# ---- ensure_movie_index rebuilds a damaged index -----------------------------------------


class _HashEmbedder:
    """A deterministic stand-in for MiniLM: same text, same unit vector (no model download)."""

    dimension = DIM
    fingerprint = "hash-embedder-v1"
    last_stats: dict[str, int] = {}

    def encode(self, texts):
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=DIM) for t in texts]
        rows = np.asarray(rows, dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _data():
    movies = pd.DataFrame(
        {
            "movie_id": np.arange(1, 5, dtype="int64"),
            "title": ["Toy Story", "Heat", "Alien", "Fargo"],
            "year": pd.array([1995, 1995, 1979, 1996], dtype="Int64"),
            "genres": [["Animation"], ["Crime"], ["Horror", "Sci-Fi"], ["Crime", "Drama"]],
        }
    )
    movies["text"] = [f"Title: {t}." for t in movies.title]
    ratings = pd.DataFrame({"user_id": [1], "movie_id": [1], "rating": [5.0], "timestamp": [0]})
    return SimpleNamespace(name="synthetic", movies=movies, ratings=ratings)


@pytest.mark.parametrize("damage", [_truncate, lambda folder: (folder / "store.json").write_text("{")])
def test_ensure_movie_index_rebuilds_a_damaged_index(tmp_path, monkeypatch, caplog, damage):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    data, embedder = _data(), _HashEmbedder()
    first = index_movies(data, backend="local", embedder=embedder, outside_ratings=False)
    folder = first.store.folder
    assert index_movies(data, backend="local", embedder=embedder, outside_ratings=False).skipped
    damage(folder)
    caplog.set_level(logging.WARNING, logger="recsys_utils.vectorstore")
    again = index_movies(data, backend="local", embedder=embedder, outside_ratings=False)
    assert not again.skipped and again.store.count() == 4 and again.content_hash == first.content_hash
    assert "vector store 'movies' is damaged" in caplog.text and "can be rebuilt" in caplog.text
    assert _open_movies(tmp_path).count() == 4  # what was rebuilt verifies on the next open


def _open_movies(tmp_path):
    return open_store("local", name="movies", dimension=DIM, path=tmp_path / "artifacts" / "vectorstore")
