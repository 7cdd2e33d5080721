"""Checks of lesson 02's exercises (``check("02.k", answer, ...)``)."""

from __future__ import annotations

import numpy as np

from .exercises import exercise

MNRL_SCALE = 20.0  # sentence-transformers' default: temperature 0.05

# Edge cases for exercise 02.2: each record is (id, metadata); the filter must keep exactly
# Sci-Fi films from 2000 on with at least 10 ratings.
FILTER_RECORDS = [
    ("a", {"genres": ["Sci-Fi", "Thriller"], "year": 2010, "rating_count": 50}),
    ("b", {"genres": ["Sci-Fi"], "year": 1999, "rating_count": 80}),
    ("c", {"genres": ["Sci-Fi"], "year": 2000, "rating_count": 10}),
    ("d", {"genres": ["Drama"], "year": 2012, "rating_count": 90}),
    ("e", {"genres": ["Sci-Fi"], "year": 2014, "rating_count": 9}),
    ("f", {"genres": ["Sci-Fi"], "rating_count": 40}),
]
FILTER_EXPECTED = {"a", "c"}


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def mnrl_loss(anchors, positives, scale: float = MNRL_SCALE) -> float:
    """Mean of -log softmax(scale * cos(a_i, p_j))_ii over the batch (in-batch negatives)."""
    a = np.asarray(anchors, dtype=np.float64)
    p = np.asarray(positives, dtype=np.float64)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    p = p / np.linalg.norm(p, axis=1, keepdims=True)
    logits = scale * a @ p.T
    log_z = np.log(np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1)) + logits.max(axis=1)
    return float(np.mean(log_z - np.diag(logits)))


@exercise("02.1", hint="cosine(a, b) = a . b / (|a| |b|); np.dot and np.linalg.norm do it in one line.")
def check_cosine(answer, a, b):
    expected = cosine(a, b)
    if not np.isfinite(float(answer)):
        return "the answer is not a finite number"
    if abs(float(answer) - expected) > 1e-4:
        return f"{float(answer):.4f} is not the cosine of these two vectors"
    return None


@exercise("02.2", hint='Combine conditions in one dict: {"genres": {"$in": [...]}, "year": {"$gte": ...}, ...}.')
def check_filter(answer):
    from ..vectorstore import LocalVectorStore, validate_filter

    validate_filter(answer)
    store = LocalVectorStore(name="exercise-02-2", dimension=2, path=None)
    store.upsert([(rid, [1.0, float(i)], meta) for i, (rid, meta) in enumerate(FILTER_RECORDS)])
    kept = {m.id for m in store.query([1.0, 0.0], top_k=len(FILTER_RECORDS), filter=answer).matches}
    if kept != FILTER_EXPECTED:
        wrong = sorted(kept - FILTER_EXPECTED)
        missed = sorted(FILTER_EXPECTED - kept)
        return (f"on the test records the filter kept {sorted(kept)}; it should not keep {wrong}"
                f" and should keep {missed}")
    return None


@exercise("02.3", hint="Row i of scale * A @ P.T holds anchor i against every positive; the right one is on "
                      "the diagonal. Loss = mean(logsumexp(row) - diagonal).")
def check_mnrl(answer, anchors, positives):
    expected = mnrl_loss(anchors, positives)
    if abs(float(answer) - expected) > 1e-3 * max(1.0, abs(expected)):
        return f"{float(answer):.4f} is not the batch's MNRL loss (scale {MNRL_SCALE:g})"
    return None
