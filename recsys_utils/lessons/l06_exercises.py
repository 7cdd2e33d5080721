"""Checks of lesson 06's exercises (``check("06.k", answer, ...)``)."""

from __future__ import annotations

import numpy as np

from .exercises import exercise


@exercise("06.1", hint="u' = (c * u + w * v) / ||c * u + w * v||: weight the old profile by its count c, "
                        "the movie by the event's weight w, add, and scale to length 1.")
def online_update(answer, current, item, weight, count) -> str | None:
    from ..embeddings import update_user_embedding

    expected = update_user_embedding(current, item, weight, count)
    answer = np.asarray(answer, dtype=np.float64).ravel()
    if answer.shape != expected.shape:
        return f"the new profile has {answer.size} numbers; it should have {expected.size}, like the old one"
    if not np.isclose(np.linalg.norm(answer), 1.0, atol=1e-4):
        return f"the new profile has length {np.linalg.norm(answer):.3f}; scale it to length 1"
    if not np.allclose(answer, expected, atol=1e-4):
        return "the direction is off: did you weight the old profile by its count and the movie by the event's weight?"
    return None


@exercise("06.2", hint="LinUCB scores x . theta + alpha * sqrt(x' A^-1 x) for each row x of the design; "
                        "the candidate with the highest score is shown first.")
def linucb_choice(answer, design, theta, a_inv, alpha) -> str | None:
    design = np.asarray(design, dtype=np.float64)
    scores = design @ np.asarray(theta) + alpha * np.sqrt(np.einsum("ij,jk,ik->i", design, np.asarray(a_inv), design))
    best = int(np.argmax(scores))
    greedy = int(np.argmax(design @ np.asarray(theta)))
    if int(answer) == best:
        return None
    if int(answer) == greedy:
        return "that is the best estimate without the exploration bonus; add alpha * sqrt(x' A^-1 x)"
    return f"candidate {int(answer)} does not have the highest LinUCB score"


@exercise("06.3", hint="A store that is locked answers quickly with a status that means 'try again later', "
                        "and a header saying when; the client retries with the same Idempotency-Key.")
def busy_answer(answer) -> str | None:
    try:
        status, header = answer
    except (TypeError, ValueError):
        return "answer with a pair: (status code, header name)"
    if int(status) != 503:
        return f"{status} is not the status for 'temporarily unavailable, retry'"
    if str(header).lower() != "retry-after":
        return f"{header!r} is not the header that tells a client when to retry"
    return None
