"""Regression tests for the embedding cache's on-disk layout (rows must stay with their keys)."""

import numpy as np

from recsys_utils.embeddings.cache import EmbeddingCache


def _digest(i: int, trailing_nul: bool = False) -> bytes:
    body = i.to_bytes(4, "big") * 8
    return body[:31] + b"\x00" if trailing_nul else body


def test_round_trip_keeps_every_row_with_its_key(tmp_path):
    rng = np.random.default_rng(0)
    digests = [_digest(i, trailing_nul=i % 3 == 0) for i in range(50)]
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    cache = EmbeddingCache(tmp_path, "model-x", 8)
    # Duplicates inside one batch used to add two rows for one key and shift every later row.
    cache.put(digests[:10] + digests[:3], np.vstack([vectors[:10], vectors[:3] + 100]))
    cache.put(digests[5:50], vectors[5:50])
    reloaded = EmbeddingCache(tmp_path, "model-x", 8)
    got, found = reloaded.get(digests)
    assert found.all(), "digests ending in a NUL byte must be found after a reload"
    np.testing.assert_array_equal(got, vectors)
    assert len(reloaded) == 50


def test_unreadable_or_foreign_layout_is_ignored(tmp_path):
    cache = EmbeddingCache(tmp_path, "model-y", 4)
    np.savez(cache.path, keys=np.array([b"a" * 32], dtype="S32"), vectors=np.ones((1, 4), np.float32))
    got, found = EmbeddingCache(tmp_path, "model-y", 4).get([b"a" * 32])
    assert not found.any()
