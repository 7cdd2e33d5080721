"""A tiny simulated audience for service tests: each user is shown k movies and clicks the one in
slot i (0 = first) with probability exp(-i / sharpness) (a lower sharpness clicks only the top)."""

from __future__ import annotations

import numpy as np


def send_simulated_feedback(client, users, sharpness: float, seed: int, k: int = 4) -> None:
    rng = np.random.default_rng(seed)
    for user in users:
        items = client.post("/recommend", json={"user_id": user, "k": k, "explain": False}).json()["items"]
        for slot, movie in enumerate(items):
            client.post("/feedback", json={"user_id": user, "movie_id": movie["movie_id"], "event": "impression"})
            if rng.random() < np.exp(-slot / sharpness):
                client.post("/feedback", json={"user_id": user, "movie_id": movie["movie_id"], "event": "click"})
