"""A tiny simulated audience for service tests: each user is shown k movies and clicks each with
probability similarity ** sharpness (a higher sharpness clicks only the closest matches)."""

from __future__ import annotations

import numpy as np


def send_simulated_feedback(client, users, sharpness: float, seed: int, k: int = 4) -> None:
    rng = np.random.default_rng(seed)
    for user in users:
        items = client.post("/recommend", json={"user_id": user, "k": k, "explain": False}).json()["items"]
        for movie in items:
            client.post("/feedback", json={"user_id": user, "movie_id": movie["movie_id"], "event": "impression"})
            if rng.random() < movie["similarity"] ** sharpness:
                client.post("/feedback", json={"user_id": user, "movie_id": movie["movie_id"], "event": "click"})
