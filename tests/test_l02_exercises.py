"""Lesson 02's exercise checks accept the right answers and refuse near misses (no model, < 1 s)."""

from __future__ import annotations

import numpy as np

from recsys_utils.lessons.exercises import check
from recsys_utils.lessons.l02_exercises import mnrl_loss
from recsys_utils.lessons.l02_pinecone_by_hand import EmbeddedPinecone


def test_cosine_check():
    a, b = np.array([1.0, 2.0, 0.0]), np.array([2.0, 1.0, 1.0])
    assert check("02.1", 4 / (np.sqrt(5) * np.sqrt(6)), a=a, b=b)
    assert not check("02.1", float(a @ b), a=a, b=b)  # the unnormalised dot product is not the cosine
    assert not check("02.1", None, a=a, b=b)


def test_filter_check_catches_each_missing_condition():
    right = {"genres": {"$in": ["Sci-Fi"]}, "year": {"$gte": 2000}, "rating_count": {"$gte": 10}}
    assert check("02.2", right)
    assert not check("02.2", {"genres": {"$in": ["Sci-Fi"]}, "year": {"$gt": 2000}, "rating_count": {"$gte": 10}})
    assert not check("02.2", {"genres": {"$in": ["Sci-Fi"]}, "year": {"$gte": 2000}})
    assert not check("02.2", {"genres": {"$bad": 1}})


def test_mnrl_check_matches_the_library_loss():
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    rng = np.random.default_rng(0)
    anchors, positives = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    library = MultipleNegativesRankingLoss(model=None).compute_loss_from_embeddings(
        [torch.tensor(anchors), torch.tensor(positives)], labels=None)
    assert abs(mnrl_loss(anchors, positives) - float(library)) < 1e-6
    assert check("02.3", float(library), anchors=anchors, positives=positives)
    assert not check("02.3", float(library) / 20, anchors=anchors, positives=positives)


def test_embedded_pinecone_answers_the_raw_calls():
    pc = EmbeddedPinecone(api_key="unused")
    assert not pc.has_index("demo")
    pc.create_index(name="demo", dimension=2, metric="cosine", spec=None)
    index = pc.Index("demo")
    assert index.upsert(vectors=[("1", [1.0, 0.0], {"title": "A"}), ("2", [0.0, 1.0], {"title": "B"})]) == {
        "upserted_count": 2}
    result = index.query(vector=[0.9, 0.1], top_k=1, include_metadata=True)
    assert result["matches"][0]["id"] == "1" and result.matches[0].metadata["title"] == "A"
    pc.delete_index("demo")
    assert not pc.has_index("demo")
