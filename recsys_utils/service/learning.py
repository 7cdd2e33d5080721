"""Continuous learning from feedback: per-user state updated at once, a scoring head fine-tuned
in the background.

Two speeds, on purpose:

* **Immediately** (inside ``POST /feedback``): a clicked or liked movie joins the user's liked
  set (a dislike removes it), so the next ``/recommend`` asks the candidate generator with the
  ALS fold-in of the updated set in the CF space and the policy's state (``state_for``) is
  built from it; the movie joins the user's "already consumed" set and the session features
  (recent genres, last feedback, counts) advance.
* **In the background** (every ``every_events`` new events or ``interval_s`` seconds): the
  served policy's scoring head (a LinUCB contextual bandit) is refitted on the logged
  interactions, checked on the newest ones, published to the shared store and swapped in
  atomically only when the guard finds it not worse. Only the worker holding the store's
  "learner" lock fits; the others adopt the published head (``PolicyLearner.refresh``).

The served policy scores each candidate with ``w . x`` where ``x = [z(base), features, 1]``:
``z(base)`` is the RL policy's score standardised within the request's candidates and the
features are the policy's candidate features (retrieval score, popularity, recent-genre overlap,
genres). Version 0 has ``w = [1, 0, ..., 0]``: exactly the RL policy's order. Fine-tuning is
ridge regression of the logged engagement on ``x`` pulled towards the deployed ``w``
(``(X'X + lam I) w = X'y + lam w_deployed``), so each update moves the head from where it is
rather than refitting from scratch. Why not back-propagate into the RL network itself: it was
trained on simulated long-term return, a handful of logged one-step rewards would overwrite
that, and a linear head is cheap to fit, easy to inspect and to validate. The network stays
frozen and the head learns how much to trust it.

LinUCB: the deployed head also keeps ``A^-1 = (X'X + lam I)^-1`` and serves
``x . w + alpha sqrt(x' A^-1 x)``: the estimate plus a bonus for candidates the logs say little
about (exploration).

The guard: the newest ``validation_share`` of the logged examples is held out; the candidate
and the deployed head are scored by ROC AUC against "engaged" (reward > 0) on them, with a 95%
bootstrap interval of the difference that resamples users. The candidate is deployed only when
the difference is >= 0 and its lower bound >= -``guard_margin``. The service ranks
deterministically, so logged impressions carry no propensities and an IPS/SNIPS value estimate
is not available: this guard rejects broken or worse updates, it does not measure a gain (the
lesson's closed loop does). Every attempt is kept in ``history`` (and shown by ``/health``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .feedback_store import FeedbackEvent, StateStore

logger = logging.getLogger(__name__)

# The online update is the candidate generator's query on the user's grown history or liked set
# (``candidate_source``): a like or a click adds the movie to it, with these stars (the text taste
# vector and the policy's ``state_for`` weight by them), a dislike takes it out again.
POSITIVE_STARS = {"click": 4.0, "like": 5.0}
# Engagement credited to the impression an event follows; matches the RL simulator's reward
# (click + watch fraction + 0.5 like) plus a penalty for an explicit dislike.
REWARD = {"click": 1.0, "like": 0.5, "dislike": -1.0}
CONSUMED_EVENTS = ("click", "watch", "like", "dislike")
def event_reward(event: str, watch_fraction: float | None) -> float:
    if event == "watch":
        return float(watch_fraction or 0.0)
    return REWARD.get(event, 0.0)


# ---------------------------------------------------------------------------------------------
# per-user state
# ---------------------------------------------------------------------------------------------


@dataclass
class SessionState:
    window: deque  # catalogue rows of the last `window` impressions (oldest first)
    last_feedback: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.float32))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.float32))  # misses, clicks, likes
    step: int = 0
    consumed: set = field(default_factory=set)
    positives: dict = field(default_factory=dict)  # catalogue row -> stars: what feedback added to the liked set
    version: int = 0  # how many events changed this user so far


class UserStates:
    """Liked-set additions and session of every known user who sent feedback (thread-safe).

    The state is *derived from the shared feedback log*: ``sync()`` folds in every event after
    the last one applied, in id order. Every worker process does the same, so all workers agree
    on every user's state, and a restart rebuilds it by replaying the log. Users without
    feedback are served from their history (``UserHistory``) alone. With ``update_embeddings``
    off (the frozen service) feedback still advances the session and the consumed set, but
    never the liked set the generator folds in.
    """

    def __init__(self, catalog, history, store=None, window: int = 5, max_steps: int = 20,
                 update_embeddings: bool = True):
        self.update_embeddings = update_embeddings
        self.catalog = catalog
        self.history = history
        self.store = store
        self.window = window
        self.max_steps = max_steps
        self.applied_id = 0
        self._states: dict[int, SessionState] = {}
        self._lock = threading.Lock()

    def _state(self, user_id: int) -> SessionState:
        state = self._states.get(user_id)
        if state is None:
            state = SessionState(window=deque([-1] * self.window, maxlen=self.window))
            self._states[user_id] = state
        return state

    def sync(self) -> int:
        """Apply the log's events this process has not applied yet; returns how many."""
        if self.store is None:
            return 0
        with self._lock:
            return self._apply_events(self.store.events(after_id=self.applied_id))

    def snapshot(self, user_id: int) -> dict:
        """What ``/recommend`` needs, copied under the lock (vector, excluded rows, session)."""
        self.sync()
        with self._lock:
            state = self._states.get(user_id)
            if state is None:
                return {"positives": {}, "consumed": (), "window_rows": (),
                        "last_feedback": np.zeros(3, np.float32), "counts": np.zeros(3, np.float32),
                        "step": 0, "version": 0}
            return _session_snapshot(state)

    def version_of(self, user_id: int) -> int:
        with self._lock:
            state = self._states.get(user_id)
            return 0 if state is None else state.version

    def apply(self, user_id: int, movie_row: int, event: str, watch_fraction: float | None) -> int:
        """Fold one event into the user's state (no log involved); returns the new state version."""
        with self._lock:
            return self._apply(user_id, movie_row, event, watch_fraction)

    def _apply(self, user_id: int, movie_row: int, event: str, watch_fraction: float | None) -> int:
        return self._fold(self._state(user_id), movie_row, event, watch_fraction)

    def _fold(self, state: SessionState, movie_row: int, event: str, watch_fraction: float | None) -> int:
        if self.update_embeddings:
            if event in POSITIVE_STARS:
                state.positives[movie_row] = max(state.positives.get(movie_row, 0.0), POSITIVE_STARS[event])
            elif event == "dislike":
                state.positives.pop(movie_row, None)
        if event == "impression":
            state.window.append(movie_row)
            state.last_feedback[:] = 0.0
            state.counts[0] += 1.0
            state.step = min(state.step + 1, self.max_steps)
        elif event == "click":
            state.last_feedback[0] = 1.0
            state.counts[0] = max(state.counts[0] - 1.0, 0.0)
            state.counts[1] += 1.0
        elif event == "watch":
            state.last_feedback[1] = float(watch_fraction or 0.0)
        elif event == "like":
            state.last_feedback[2] = 1.0
            state.counts[2] += 1.0
        if event in CONSUMED_EVENTS:
            state.consumed.add(movie_row)
        state.version += 1
        return state.version

    def _apply_events(self, events: list[FeedbackEvent]) -> int:
        applied = 0
        for event in events:
            if event.id <= self.applied_id:
                continue
            self.applied_id = event.id
            if event.user_id < 0:
                continue  # a cold-start visitor: folded on demand (visitor_snapshot), from their profile
            row = self.catalog.row(event.movie_id)
            if row is None or self.history.row(event.user_id) is None:
                logger.warning("skipping logged event %d: user or movie no longer known", event.id)
                continue
            self._apply(event.user_id, row, event.event, event.watch_fraction)
            applied += 1
        return applied

    def visitor_snapshot(self, visitor_key: int) -> dict:
        """A cold-start visitor's session with every logged event of theirs folded in, in order.
        Nothing but the log is kept, so any worker computes the same state, and a restart loses
        nothing. The caller adds the profile itself (``positives`` are what feedback added)."""
        state = SessionState(window=deque([-1] * self.window, maxlen=self.window))
        for event in (self.store.events(user_id=visitor_key) if self.store is not None else ()):
            row = self.catalog.row(event.movie_id)
            if row is not None:
                self._fold(state, row, event.event, event.watch_fraction)
        return _session_snapshot(state)

    def replay(self, events: list[FeedbackEvent]) -> int:
        with self._lock:
            return self._apply_events(events)


def _session_snapshot(state: SessionState) -> dict:
    return {"positives": dict(state.positives), "consumed": tuple(sorted(state.consumed)),
            "window_rows": tuple(r for r in state.window if r >= 0), "last_feedback": state.last_feedback.copy(),
            "counts": state.counts.copy(), "step": state.step, "version": state.version}


# ---------------------------------------------------------------------------------------------
# the fine-tuned scoring head
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoringHead:
    """``score = weights . [z(base), features, 1]``; immutable so a swap is one assignment."""

    weights: np.ndarray
    version: int = 0
    a_inv: np.ndarray | None = None  # LinUCB: inverse of the design's regularised Gram matrix
    alpha: float = 0.0  # LinUCB: weight of the exploration bonus

    @classmethod
    def initial(cls, n_features: int) -> ScoringHead:
        weights = np.zeros(n_features + 2, dtype=np.float64)
        weights[0] = 1.0
        return cls(weights, 0)

    def score(self, design: np.ndarray) -> np.ndarray:
        """LinUCB's score: the ridge estimate of engagement plus ``alpha`` times its standard
        error, ``x.theta + alpha sqrt(x' A^-1 x)``: candidates the logs say little about get a
        bonus, so the service keeps learning about them (exploration)."""
        scores = design @ self.weights
        if self.alpha and self.a_inv is not None:
            spread = np.einsum("ij,jk,ik->i", design, self.a_inv, design)
            scores = scores + self.alpha * np.sqrt(np.maximum(spread, 0.0))
        return scores

    def payload(self, base_version: str) -> dict:
        return {"weights": self.weights.tolist(), "base_version": base_version, "alpha": self.alpha,
                "a_inv": None if self.a_inv is None else self.a_inv.tolist()}


def design_matrix(base_z: np.ndarray, features: np.ndarray) -> np.ndarray:
    return np.hstack([np.asarray(base_z, dtype=np.float64)[:, None], np.asarray(features, dtype=np.float64),
                      np.ones((len(base_z), 1))])


def standardise(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 1e-12 else np.zeros_like(scores)


def logged_examples(events: list[FeedbackEvent], with_users: bool = False):
    """(X, y): one row per logged impression with the engagement that followed it.

    Each impression carries the design row the service computed when it was shown; later
    click / watch / like / dislike events of the same user and movie add their reward to the
    latest impression of that pair. Events without a preceding impression are not examples.
    """
    rows: list[tuple] = []
    rewards: list[float] = []
    owners: list[int] = []
    latest: dict[tuple[int, int], int] = {}
    for event in events:
        key = (event.user_id, event.movie_id)
        if event.event == "impression":
            if event.features is None:
                continue
            latest[key] = len(rows)
            rows.append(event.features)
            rewards.append(0.0)
            owners.append(event.user_id)
        elif key in latest:
            rewards[latest[key]] += event_reward(event.event, event.watch_fraction)
    if not rows:
        return (np.empty((0, 0)), np.empty(0), np.empty(0, np.int64)) if with_users else (np.empty((0, 0)), np.empty(0))
    width = max(len(r) for r in rows)
    keep = [i for i, r in enumerate(rows) if len(r) == width]  # a schema change leaves old rows out
    X, y = np.asarray([rows[i] for i in keep], dtype=np.float64), np.asarray([rewards[i] for i in keep])
    return (X, y, np.asarray([owners[i] for i in keep], dtype=np.int64)) if with_users else (X, y)


def auc(scores: np.ndarray, engaged: np.ndarray) -> float | None:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties averaged; None with one class only."""
    from scipy.stats import rankdata

    positives = int(engaged.sum())
    negatives = len(engaged) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[engaged].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def guarded_difference(new: np.ndarray, old: np.ndarray, engaged: np.ndarray, users: np.ndarray,
                       n_resamples: int = 200, seed: int = 0) -> tuple[float, float, float] | None:
    """AUC(new) - AUC(old) on held-out logged impressions, with a 95% bootstrap interval that
    resamples users (a user's impressions move together). None when there is one class only."""
    point_new, point_old = auc(new, engaged), auc(old, engaged)
    if point_new is None or point_old is None:
        return None
    rng = np.random.default_rng(seed)
    ids, groups = np.unique(users, return_inverse=True)
    members = [np.flatnonzero(groups == g) for g in range(len(ids))]
    diffs = []
    for _ in range(n_resamples):
        take = np.concatenate([members[g] for g in rng.integers(0, len(ids), len(ids))])
        a, b = auc(new[take], engaged[take]), auc(old[take], engaged[take])
        if a is not None and b is not None:
            diffs.append(a - b)
    if not diffs:
        return None
    low, high = np.percentile(diffs, [2.5, 97.5])
    return point_new - point_old, float(low), float(high)


def fit_head(X: np.ndarray, y: np.ndarray, previous: np.ndarray, ridge: float) -> np.ndarray:
    gram = X.T @ X + ridge * np.eye(X.shape[1])
    return np.linalg.solve(gram, X.T @ y + ridge * previous)


@dataclass
class LearnerConfig:
    every_events: int = 200  # fine-tune after this many new events ...
    interval_s: float = 30.0  # ... or this often when there are new events
    ridge: float = 10.0
    validation_share: float = 0.25
    min_examples: int = 40
    alpha: float = 0.5  # LinUCB exploration bonus (0: the plain ridge estimate)
    guard_margin: float = 0.01  # deploy unless the AUC difference's lower 95% bound is below -margin
    enabled: bool = True  # background fine-tuning of the policy head
    update_embeddings: bool = True  # immediate user-embedding updates (off = a frozen service)


class PolicyLearner:
    """Holds the deployed head, fine-tunes candidates in a background thread, swaps atomically."""

    def __init__(self, store: StateStore, n_features: int, base_version: str, config: LearnerConfig | None = None,
                 trainer=None):
        self.store = store
        self.config = config or LearnerConfig()
        self.base_version = base_version
        self.head = ScoringHead.initial(n_features)
        self.history: list[dict] = []
        # trainer(X, y, previous_weights) -> new weights; replaceable so tests can inject a bad one.
        self.trainer = trainer or (lambda X, y, prev: fit_head(X, y, prev, self.config.ridge))
        self._events_at_last_fit = store.last_id()
        self._fit_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = threading.Event()
        # One learner among all workers: whoever holds the store's "learner" lock fine-tunes and
        # publishes; every worker picks up the published head (``refresh``).
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        self._next_refresh = 0.0
        self.refresh()

    @property
    def version(self) -> str:
        return f"{self.base_version}+ft{self.head.version}"

    def refresh(self, every_s: float = 0.0) -> bool:
        """Adopt a newer head published by the learner (at most every ``every_s`` seconds)."""
        now = time.monotonic()
        if every_s > 0:  # a throttled call (the request path); an explicit refresh() always reads
            if now < self._next_refresh:
                return False
            self._next_refresh = now + every_s
        found = self.store.policy()
        if found is None or found[0] <= self.head.version:
            return False
        version, payload = found
        weights = np.asarray(payload.get("weights", ()), dtype=np.float64)
        if payload.get("base_version") != self.base_version or weights.shape != self.head.weights.shape:
            return False  # a head for another base policy or feature layout: not ours to serve
        a_inv = payload.get("a_inv")
        self.head = ScoringHead(weights, version, None if a_inv is None else np.asarray(a_inv, dtype=np.float64),
                                float(payload.get("alpha", 0.0)))
        return True

    def _lead(self) -> bool:
        ttl = max(3 * self.config.interval_s, 30.0)
        self.is_leader = bool(self.store.try_lock("learner", self.owner, ttl))
        return self.is_leader

    # -- background loop ------------------------------------------------------------------
    def start(self) -> None:
        if not self.config.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="policy-learner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.is_leader:
            try:
                self.store.release_lock("learner", self.owner)
            except Exception:  # the store may be gone at shutdown; the lock then expires
                logger.warning("could not release the learner lock; it expires by itself")

    def notify(self, event_id: int) -> None:
        """Called after each stored event; wakes the thread when enough events arrived."""
        if self.config.enabled and event_id - self._events_at_last_fit >= self.config.every_events:
            self._busy.set()
            self._wake.set()

    @property
    def events_since_fit(self) -> int:
        return self.store.last_id() - self._events_at_last_fit

    def trigger(self) -> None:
        """Ask the background thread for a fine-tune now (the lesson does it at round ends)."""
        if self.config.enabled:
            self._busy.set()
            self._wake.set()

    def events_until_fine_tune(self, last_id: int) -> int | None:
        if not self.config.enabled:
            return None
        return max(self.config.every_events - (last_id - self._events_at_last_fit), 0)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no fine-tune is pending or running (the lesson uses it between rounds)."""
        deadline = time.monotonic() + timeout
        while self._busy.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._busy.is_set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=self.config.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                if self._lead():
                    if self.store.last_id() > self._events_at_last_fit:
                        self.fine_tune()
                else:
                    self.refresh()
            except Exception:  # the learner must never take the service down
                logger.exception("background fine-tuning failed; the deployed policy stays")
            finally:
                self._busy.clear()

    # -- one fine-tuning attempt -----------------------------------------------------------
    def fine_tune(self) -> dict:
        """Fit a candidate on the logged interactions, validate, deploy if not worse."""
        with self._fit_lock:
            last_id = self.store.last_id()
            X, y, users = logged_examples(self.store.events(), with_users=True)
            self._events_at_last_fit = last_id
            deployed = self.head
            record = {"at_event": last_id, "examples": len(y), "from_version": self.version, "deployed": False}
            if len(y) < self.config.min_examples or X.shape[1] != len(deployed.weights):
                record["reason"] = (f"{len(y)} logged impressions with features; need {self.config.min_examples}"
                                    if len(y) < self.config.min_examples else "feature layout changed")
                return self._remember(record)
            n_val = max(int(round(self.config.validation_share * len(y))), 1)
            X_fit, y_fit, X_val, y_val = X[:-n_val], y[:-n_val], X[-n_val:], y[-n_val:]
            candidate = np.asarray(self.trainer(X_fit, y_fit, deployed.weights), dtype=np.float64)
            engaged = y_val > 0
            finite = bool(np.all(np.isfinite(candidate)))
            guard = guarded_difference(X_val @ candidate, X_val @ deployed.weights, engaged, users[-n_val:]) \
                if finite else None
            record.update(validation_examples=int(n_val), auc_deployed=auc(X_val @ deployed.weights, engaged),
                          auc_candidate=auc(X_val @ candidate, engaged) if finite else None)
            if guard is None:
                record["reason"] = "validation examples are all engaged or all ignored (or the fit failed)"
            else:
                diff, low, high = guard
                record.update(auc_difference=diff, auc_difference_ci=[low, high])
                if diff < 0 or low < -self.config.guard_margin:
                    record["reason"] = (f"candidate is worse or may be worse on validation (AUC difference {diff:+.3f}, "
                                        f"95% CI {low:+.3f} to {high:+.3f}); not deployed")
                else:
                    # Deploy exactly the candidate that was validated (no refit afterwards), publish it
                    # for the other workers, then swap here (one assignment: atomic for readers).
                    gram = X_fit.T @ X_fit + self.config.ridge * np.eye(X_fit.shape[1])
                    head = ScoringHead(candidate, deployed.version + 1, np.linalg.inv(gram), self.config.alpha)
                    self.store.publish_policy(head.version, head.payload(self.base_version))
                    self.head = head
                    record.update(deployed=True, to_version=self.version)
            return self._remember(record)

    def _remember(self, record: dict) -> dict:
        self.history.append(record)
        logger.info("fine-tune attempt: %s", record)
        return record
