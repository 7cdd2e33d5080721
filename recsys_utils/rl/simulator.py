"""The simulated user: how a person responds to one recommended movie, and how a session evolves.

Everything here is simulator-side: it reads the ground-truth predicted rating, which the agent
never sees. The response model is a multinomial logit over {the recommended movie, no click};
after a click, the watch fraction and the chance of a like grow with the predicted rating.

Two kinds of appeal, following RecSim's interest-evolution environment (Ie et al., 2019), where
a document's *clickbait* appeal drives the choice while its *quality* drives what the user gets
from it and how long they stay: here the click utility may lean on the movie's popularity and
its similarity to the user's taste (``popularity_weight``, ``similarity_weight``), while the
watch fraction, the like and the patience change after a watch follow the predicted rating.

Long-term dynamics (``long_term_dynamics``; off in the control regime):

* satiation (RecSim's interest evolution): each shown movie adds its genres to a satiation
  trace that decays by ``satiation_decay`` per step; a candidate whose genres are satiated
  beyond ``boredom_tolerance`` loses up to ``boredom_weight`` of utility;
* patience, the user's remaining time budget (KuaiSim's leave model, Zhao et al., 2023): a miss
  costs ``patience_drop``; a watched movie moves patience by ``patience_recovery +
  quality_gain * (rating - quality_center)``, so watching clickbait of low quality drains it;
* leaving: when patience runs out, or at ``leave_base`` per step whatever was shown;
* returning (KuaiSim's return model): when the session ends, the user's chance of coming back
  follows their end-of-session satisfaction (remaining patience); its expected value
  ``return_reward * P(return)`` is paid with the last step's reward.

All numbers live in :class:`SimulatorConfig`; :mod:`recsys_utils.rl.regimes` names the two
configurations the lesson compares, calibrated offline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np


@dataclass(frozen=True)
class SimulatorConfig:
    """Every parameter of the simulated user, with its unit and why it has this value.

    Choice model (multinomial logit over the recommended movie and "no click"):
        click_intercept: utility of a movie predicted at ``rating_center`` stars, relative to
            no click (utility ``no_click_utility``). 1.0 gives a 73% click chance for such a
            movie when the user is fresh (retrieved pools average ~3.2 predicted stars, so a
            typical candidate is clicked a bit over half the time).
        rating_center: the predicted rating (stars) at which ``click_intercept`` applies.
            3.5 is close to MovieLens' mean rating, so an average film is a coin flip-plus.
        rating_weight: utility per predicted star above ``rating_center``. 2.0 makes a 4.5-star
            prediction ~95% and a 2.5-star one ~27% clickable.
        no_click_utility: utility of leaving the recommendation unclicked (the logit's outside
            option), fixed at 0 as the reference level.
    Watching and liking (only after a click):
        watch_midpoint, watch_slope: watch fraction = sigmoid(slope * (rating - midpoint)); a
            3-star film is watched half-way, a 4.5-star one almost to the end.
        like_midpoint, like_slope: P(like) = sigmoid(slope * (rating - midpoint)); 4 stars is
            MovieLens' usual "liked" threshold, hence the midpoint.
    Reward (what the agent maximises and the report calls engagement):
        click_reward, watch_reward, like_reward: reward = click_reward * click
            + watch_reward * watch_fraction + like_reward * like. Clicks and watch time count
            equally; a like is a smaller bonus because it is rarer and noisier.
    Long-term dynamics:
        long_term_dynamics: False switches boredom and patience off (the ablation); leaving at
            the base rate remains because it does not depend on what was recommended.
        boredom_window: how many recent recommendations the user remembers (5).
        boredom_tolerance: share of the window one genre may fill before the user gets bored
            (0.4: two dramas in the last five are fine, a third starts to bore).
        boredom_weight: utility lost at full boredom. Boredom is 0 up to the tolerance and
            rises linearly to 1 when every movie in the window shared one of the candidate's
            genres. 2.5 makes a fully repeated genre cost more than a star of predicted rating.
        initial_patience: patience at the start of a session (1.0).
        patience_drop: patience lost after a recommendation that was not clicked (0.25: four
            misses in a row and the user is gone).
        patience_recovery: patience regained after a click (0.1, capped at initial_patience);
            at a 50% click rate patience drifts down 0.075 a step, so a mediocre session
            lasts about a dozen steps and a good one reaches the cap of ``max_steps``.
        leave_base: chance of leaving after any step whatever was shown (0.02 per step): real
            sessions end for reasons unrelated to the recommendations.
        max_steps: the session ends after this many recommendations (20); step 20 is a true end
            (``terminated``), the observation carries the position in the session.
    Clickbait, quality and return (0 = off, which gives the original lesson's simulator):
        popularity_weight: click utility per unit of popularity (log-count share, 0..1).
        similarity_weight, similarity_center, similarity_scale: click utility per
            ``similarity_scale`` of retrieval similarity (cosine of the movie with the user's
            taste) above ``similarity_center``; the calibration sets centre and scale to the
            pools' mean and standard deviation.
        satiation_decay: share of the satiation trace kept per step; 0 uses the hard window of
            ``boredom_window`` recent recommendations instead.
        quality_center, quality_gain: patience change per predicted star above
            ``quality_center`` after a watched movie.
        return_reward, return_midpoint, return_slope: expected reward of a return visit,
            ``return_reward * sigmoid(return_slope * (patience / initial_patience - return_midpoint))``,
            paid at the end of the session.
    """

    click_intercept: float = 1.0
    rating_center: float = 3.5
    rating_weight: float = 2.0
    no_click_utility: float = 0.0
    watch_midpoint: float = 3.0
    watch_slope: float = 1.5
    like_midpoint: float = 4.0
    like_slope: float = 3.0
    click_reward: float = 1.0
    watch_reward: float = 1.0
    like_reward: float = 0.5
    long_term_dynamics: bool = True
    boredom_window: int = 5
    boredom_tolerance: float = 0.4
    boredom_weight: float = 2.5
    initial_patience: float = 1.0
    patience_drop: float = 0.25
    patience_recovery: float = 0.1
    leave_base: float = 0.02
    max_steps: int = 20
    popularity_weight: float = 0.0
    similarity_weight: float = 0.0
    similarity_center: float = 0.5
    similarity_scale: float = 1.0
    satiation_decay: float = 0.0
    quality_center: float = 3.5
    quality_gain: float = 0.0
    return_reward: float = 0.0
    return_midpoint: float = 0.5
    return_slope: float = 6.0

    def __post_init__(self) -> None:
        if self.max_steps < 1 or self.boredom_window < 1:
            raise ValueError("max_steps and boredom_window must be at least 1")
        if not 0.0 <= self.leave_base < 1.0:
            raise ValueError(f"leave_base={self.leave_base} must be a probability in [0, 1)")
        if not 0.0 <= self.boredom_tolerance < 1.0:
            raise ValueError(f"boredom_tolerance={self.boredom_tolerance} must be in [0, 1)")
        if self.initial_patience <= 0 or self.patience_drop < 0 or self.patience_recovery < 0:
            raise ValueError("initial_patience must be > 0 and patience_drop/recovery >= 0")
        if self.similarity_scale <= 0:
            raise ValueError(f"similarity_scale={self.similarity_scale} must be > 0")
        if not 0.0 <= self.satiation_decay < 1.0:
            raise ValueError(f"satiation_decay={self.satiation_decay} must be in [0, 1)")
        if self.return_reward < 0 or self.quality_gain < 0:
            raise ValueError("return_reward and quality_gain must be >= 0")

    def without_long_term_dynamics(self) -> SimulatorConfig:
        """The ablation: same user, no boredom and no patience."""
        return replace(self, long_term_dynamics=False)

    def as_dict(self) -> dict:
        return asdict(self)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def genre_overlap(candidate_genres: np.ndarray, window_genre_counts: np.ndarray, window: int) -> np.ndarray:
    """Per candidate, the largest share of the recent window taken by one of its genres (0..1).

    ``candidate_genres`` is (..., K, G) multi-hot, ``window_genre_counts`` (..., G) counts of
    each genre among the last ``window`` recommendations. A movie with no genre scores 0.
    """
    if candidate_genres.shape[-1] == 0:  # a catalogue without genres: nothing can repeat
        return np.zeros(candidate_genres.shape[:-1])
    shares = window_genre_counts[..., None, :] / float(window)
    return (candidate_genres * shares).max(axis=-1)


def boredom_from_overlap(overlap: np.ndarray, tolerance: float) -> np.ndarray:
    """0 while the overlap stays within ``tolerance``, rising linearly to 1 at full overlap."""
    return np.clip((overlap - tolerance) / (1.0 - tolerance), 0.0, 1.0)


class UserResponseModel:
    """The response probabilities and expected reward for a batch of candidates (vectorised)."""

    def __init__(self, config: SimulatorConfig):
        self.config = config

    def click_probability(self, ratings: np.ndarray, boredom: np.ndarray, popularity=0.0,
                          similarity=None) -> np.ndarray:
        c = self.config
        utility = c.click_intercept + c.rating_weight * (ratings - c.rating_center)
        utility = utility + c.popularity_weight * np.asarray(popularity)
        if similarity is not None:
            utility = utility + c.similarity_weight * (np.asarray(similarity) - c.similarity_center) / c.similarity_scale
        if c.long_term_dynamics:
            utility = utility - c.boredom_weight * boredom
        # Logit over {movie, no click}: exp(u) / (exp(u) + exp(u0)).
        return sigmoid(utility - c.no_click_utility)

    def watch_fraction(self, ratings: np.ndarray) -> np.ndarray:
        c = self.config
        return sigmoid(c.watch_slope * (ratings - c.watch_midpoint))

    def like_probability(self, ratings: np.ndarray) -> np.ndarray:
        c = self.config
        return sigmoid(c.like_slope * (ratings - c.like_midpoint))

    def expected_reward(self, ratings: np.ndarray, boredom: np.ndarray, popularity=0.0,
                        similarity=None) -> np.ndarray:
        """E[engagement] of showing each candidate now: what the myopic oracle maximises."""
        c = self.config
        on_click = c.click_reward + c.watch_reward * self.watch_fraction(ratings) + (
            c.like_reward * self.like_probability(ratings)
        )
        return self.click_probability(ratings, boredom, popularity, similarity) * on_click

    def return_value(self, patience: np.ndarray) -> np.ndarray:
        """Expected reward of the return visit for the patience left at the end of a session."""
        c = self.config
        if not c.long_term_dynamics or c.return_reward == 0:
            return np.zeros_like(np.asarray(patience, dtype=np.float64))
        share = np.clip(np.asarray(patience, dtype=np.float64) / c.initial_patience, 0.0, 1.0)
        return c.return_reward * sigmoid(c.return_slope * (share - c.return_midpoint))

    def sample(self, rng: np.random.Generator, rating: float, boredom: float) -> tuple[float, float, float]:
        """Draw (click, watch fraction, like) for one shown movie."""
        # Both coins are always drawn so the random stream does not depend on the outcome.
        click_draw, like_draw = rng.random(2)
        click = float(click_draw < self.click_probability(rating, boredom))
        watch = float(self.watch_fraction(rating)) if click else 0.0
        like = float(like_draw < self.like_probability(rating)) if click else 0.0
        return click, watch, like

    def reward(self, click: float, watch: float, like: float) -> float:
        c = self.config
        return c.click_reward * click + c.watch_reward * watch + c.like_reward * like


@dataclass
class SessionState:
    """What the simulator tracks during one session (hidden from the agent except via history)."""

    patience: float
    step: int = 0
    left: bool = False


def next_patience(config: SimulatorConfig, patience: float, click: float) -> float:
    if not config.long_term_dynamics:
        return patience
    if not click:
        patience -= config.patience_drop
    else:
        patience = min(config.initial_patience, patience + config.patience_recovery)
    return patience


def user_leaves(config: SimulatorConfig, rng: np.random.Generator, patience: float) -> bool:
    # Draw the base-rate coin every step, whether or not patience ran out, so two policies
    # facing the same seed see the same random stream for as long as their sessions agree.
    base = rng.random() < config.leave_base
    return bool(base or patience <= 1e-9)
