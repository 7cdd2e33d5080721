"""Close the loop for lesson 06: simulated users talk to a running service over HTTP.

Each round, every simulated user asks ``POST /recommend`` for a slate, "looks at" it and
answers as a client application would, with the slate's events in one ``POST /feedback/batch``:
an impression per movie shown, then click / watch fraction / like drawn from the RL lesson's
user simulator (``rl.simulator.UserResponseModel``: a logit choice on the ground-truth
predicted rating, with boredom when the same genres keep coming). The ground truth
(``rl.ground_truth.RatingModel``) stays on the client side: the service only ever sees the events.

Engagement per user and round = click + watch fraction + 0.5 x like summed over the slate,
the simulator's reward. Every (user, round, slot) draws from its own seeded stream, so two
services facing the same users see the same randomness for as long as they show the same movies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..rl.simulator import SimulatorConfig, UserResponseModel


def _boredom(config: SimulatorConfig, genres: np.ndarray, window_counts: np.ndarray) -> float:
    from ..rl import simulator

    overlap = simulator.genre_overlap(genres[None, :], window_counts, config.boredom_window)[0]
    return float(simulator.boredom_from_overlap(overlap, config.boredom_tolerance))


@dataclass
class SimulatedUser:
    user_id: int
    window: list = field(default_factory=list)  # genre vectors of recently shown movies


@dataclass
class LoopResult:
    engagement: list[float]  # mean engagement per user, one value per round
    ctr: list[float]
    policy_versions: list[str]
    requests: int
    seconds: float
    # engagement of each user in each round (rounds x users, users in the order given): the
    # unit of the paired comparison between arms, which share users and random streams.
    per_user_engagement: list[list[float]] = field(default_factory=list)
    unrated_shown: int = 0  # shown movies without any rating (the ground truth used the user's baseline)


class ClosedLoop:
    """Simulated users (ids known to the service) with their ground-truth rating model."""

    def __init__(self, user_ids, rating_model, genre_names: list[str], config: SimulatorConfig | None = None,
                 seed: int = 42, slate: int = 5, profiles: dict[int, list[int]] | None = None):
        """``profiles`` (user id -> liked movie ids) makes every user a cold-start visitor: the
        service sees only that profile and the visitor's own feedback, never their history."""
        self.profiles = profiles
        self.user_ids = [int(u) for u in user_ids]
        self.rating_model = rating_model
        self.config = config or SimulatorConfig()
        self.response = UserResponseModel(self.config)
        self.genre_col = {g: j for j, g in enumerate(genre_names)}
        self.seed = seed
        self.slate = slate

    def _genres(self, names: list[str]) -> np.ndarray:
        vector = np.zeros(len(self.genre_col), dtype=np.float32)
        vector[[self.genre_col[g] for g in names if g in self.genre_col]] = 1.0
        return vector

    def _who(self, user_id: int, request: bool = False) -> dict:
        if self.profiles is None:
            return {"user_id": user_id}
        if request:
            return {"profile": {"liked_movie_ids": self.profiles[user_id], "visitor_id": user_id}}
        return {"visitor_id": user_id}

    def run(self, base_url: str, rounds: int, on_round=None) -> LoopResult:
        import httpx

        users = [SimulatedUser(u) for u in self.user_ids]
        engagement, ctr, versions, per_user = [], [], [], []
        requests = 0
        unrated_shown = 0
        start = time.perf_counter()
        with httpx.Client(base_url=base_url, timeout=30) as http:
            for round_index in range(rounds):
                total, clicks, shown = 0.0, 0, 0
                user_totals = []
                for user in users:
                    user_total = 0.0
                    slate_events = []  # sent at once when the slate has been looked at, as a client app does
                    reply = http.post("/recommend", json={**self._who(user.user_id, request=True), "k": self.slate,
                                                          "explain": False})
                    reply.raise_for_status()
                    body = reply.json()
                    requests += 1
                    for slot, movie in enumerate(body["items"]):
                        rng = np.random.default_rng([self.seed, user.user_id, round_index, slot])
                        genres = self._genres(movie["genres"])
                        recent = user.window[-self.config.boredom_window:]
                        counts = np.sum(recent, axis=0) if recent else np.zeros_like(genres)
                        # A movie nobody rated gets the user's baseline (the ground truth knows nothing
                        # more about it); counted, so the lesson can say how often it happened.
                        predicted, unknown = self.rating_model.predict_with_unrated([user.user_id], [movie["movie_id"]])
                        rating = float(predicted[0])
                        unrated_shown += unknown
                        click, watch, like = self.response.sample(rng, rating, _boredom(self.config, genres, counts))
                        user.window.append(genres)
                        events = [{"event": "impression"}]
                        if click:
                            events += [{"event": "click"}, {"event": "watch", "watch_fraction": round(watch, 4)}]
                        if like:
                            events.append({"event": "like"})
                        slate_events += [{**self._who(user.user_id), "movie_id": movie["movie_id"], **event}
                                         for event in events]
                        user_total += self.response.reward(click, watch, like)
                        clicks += int(click)
                        shown += 1
                    if slate_events:
                        # One POST /feedback/batch per slate: the events in order, stored in one commit
                        # (per event, the in-process HTTP round trips were most of the loop's time).
                        http.post("/feedback/batch", json={"events": slate_events}).raise_for_status()
                        requests += 1
                    user_totals.append(user_total)
                    total += user_total
                per_user.append(user_totals)
                engagement.append(total / len(users))
                ctr.append(clicks / max(shown, 1))
                if on_round is not None:
                    on_round(round_index)  # e.g. wait for the background fine-tune to settle
                versions.append(http.get("/health").json()["policy_version"])
        return LoopResult(engagement, ctr, versions, requests, time.perf_counter() - start, per_user, unrated_shown)
