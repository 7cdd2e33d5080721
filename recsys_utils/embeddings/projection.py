"""A trainable projection over frozen MiniLM vectors, fitted with MultipleNegativesRankingLoss.

The projection is sentence-transformers' own ``Dense`` module with a residual connection,
``out = normalise(x + W x + b)``, started at ``W = 0, b = 0`` so that step 0 *is* the base
MiniLM space and training only moves it as far as the pairs ask. The loss is the library's
``MultipleNegativesRankingLoss`` (scale 20, i.e. temperature 0.05) applied to the projected
vectors with ``compute_loss_from_embeddings``; optionally every pair also carries one catalogue
movie drawn uniformly at random as an extra negative (see ``train_projection``).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np


@dataclass
class TrainSettings:
    batch_size: int = 256
    learning_rate: float = 2e-3
    scale: float = 20.0  # MNRL's 1 / temperature
    uniform_negatives: bool = True
    weight_decay: float = 0.0


@contextmanager
def single_thread():
    """Run torch on one thread, then restore its setting.

    Measured on the course machine (2 cores, shared): a training step of these small matrix
    products took 3 s with torch's 2 threads spinning against other processes, 0.06 s with one.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def make_projection(dimension: int):
    """``Dense(d, d)`` with identity activation and a residual, initialised to the identity map."""
    import torch
    from sentence_transformers.sentence_transformer.modules import Dense

    return Dense(
        dimension,
        dimension,
        activation_function=torch.nn.Identity(),
        init_weight=torch.nn.Parameter(torch.zeros(dimension, dimension)),
        init_bias=torch.nn.Parameter(torch.zeros(dimension)),
        use_residual=True,
    )


def project(dense, vectors: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Unit-length projected vectors (float32) of ``vectors`` (n, d)."""
    import torch

    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dense.in_features:
        raise ValueError(f"expected (n, {dense.in_features}) vectors, got shape {vectors.shape}")
    out = []
    with torch.no_grad(), single_thread():
        for start in range(0, len(vectors), batch_size):
            chunk = torch.from_numpy(vectors[start : start + batch_size])
            out.append(torch.nn.functional.normalize(dense({"sentence_embedding": chunk})["sentence_embedding"], dim=1))
    if not out:
        return np.empty((0, dense.out_features), dtype=np.float32)
    return torch.cat(out).numpy().astype(np.float32)


def train_projection(
    base_vectors: np.ndarray,
    anchors: np.ndarray,
    positives: np.ndarray,
    settings: TrainSettings,
    seed: int,
    max_seconds: float | None = None,
) -> tuple[object, dict]:
    """One pass over the (anchor, positive) row pairs in batches; returns ``(dense, report)``.

    ``max_seconds`` stops early (the report says how many pairs were actually trained).
    """
    with single_thread():
        return _train(base_vectors, anchors, positives, settings, seed, max_seconds)


def _train(base_vectors, anchors, positives, settings: TrainSettings, seed: int, max_seconds: float | None):
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    torch.manual_seed(seed)
    generator = np.random.default_rng(seed + 1)
    base = torch.from_numpy(np.asarray(base_vectors, dtype=np.float32))
    dense = make_projection(base.shape[1])
    # The loss only needs a model for its forward(); we hand it projected vectors directly.
    loss_fn = MultipleNegativesRankingLoss(model=dense, scale=settings.scale)
    optimiser = torch.optim.AdamW(dense.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    n_pairs = len(anchors)
    steps = 0
    trained = 0
    losses: list[float] = []
    start = time.perf_counter()
    for begin in range(0, n_pairs - settings.batch_size + 1, settings.batch_size):
        a = base[anchors[begin : begin + settings.batch_size]]
        p = base[positives[begin : begin + settings.batch_size]]
        columns = [a, p]
        if settings.uniform_negatives:
            columns.append(base[generator.integers(0, len(base), size=len(a))])
        embedded = [dense({"sentence_embedding": c})["sentence_embedding"] for c in columns]
        loss = loss_fn.compute_loss_from_embeddings(embedded, labels=None)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps += 1
        trained += len(a)
        losses.append(float(loss.detach()))
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    seconds = time.perf_counter() - start
    dense.eval()
    head = float(np.mean(losses[: max(1, min(20, len(losses)))])) if losses else float("nan")
    tail = float(np.mean(losses[-max(1, min(20, len(losses))) :])) if losses else float("nan")
    report = {
        "steps": steps,
        "pairs": trained,
        "pairs_offered": int(n_pairs),
        "train_seconds": round(seconds, 3),
        "pairs_per_second": round(trained / seconds, 1) if seconds > 0 else None,
        "loss_first_steps": round(head, 4),
        "loss_last_steps": round(tail, 4),
        "batch_size": settings.batch_size,
        "learning_rate": settings.learning_rate,
        "scale": settings.scale,
        "uniform_negatives": settings.uniform_negatives,
    }
    return dense, report
