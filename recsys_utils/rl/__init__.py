"""Lesson 04: a MovieLens user simulator, a gymnasium environment, DQN versus PPO.

Modules (one job each): ``ground_truth`` (the simulated users' ratings), ``simulator`` (the
response model and its parameters), ``regimes`` (the lesson's two calibrated configurations),
``batched`` (many sessions in lockstep: the one home of the dynamics), ``env`` (the gymnasium
environment, a batch of one), ``features`` (observation layout), ``world`` (precomputed arrays),
``candidates`` (each user's retrieved pool), ``agents`` and ``networks`` (stable-baselines3 DQN
and PPO with the shared candidate scorer), ``baselines`` (greedy, fitted Q, logging), ``oracles``
(myopic and lookahead), ``rollouts``, ``evaluation`` (statistics), ``experiment`` (the MovieLens
world) and ``serving`` (the policy contract the service calls: :func:`load_policy`,
``policy.state_for``, the batched ``policy.score``, :func:`rank_candidates`, ``policy.info``).
"""

from .simulator import SimulatorConfig

__all__ = ["SimulatorConfig", "load_policy", "rank_candidates", "UserState"]


def __getattr__(name):
    # Serving pulls in torch and stable-baselines3; import it only when asked for.
    if name in {"load_policy", "rank_candidates", "UserState", "LoadedPolicy"}:
        from . import serving

        return getattr(serving, name)
    raise AttributeError(f"module 'recsys_utils.rl' has no attribute {name!r}")
