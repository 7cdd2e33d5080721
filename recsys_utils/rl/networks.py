"""The network both agents use: one small MLP shared by every candidate slot."""

from __future__ import annotations

import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

MASKED = -1e4  # score of a padded slot: far below any real candidate's


class CandidateScorer(BaseFeaturesExtractor):
    """Scores every (user, candidate) pair with the same weights.

    A flat MLP over the whole observation must learn the same "is this a good movie for this
    user now" function once per slot; sharing it across the K slots respects the fact that a
    candidate's value does not depend on where retrieval placed it, and measured on this
    environment it learns in far fewer steps. Output: the K scores plus the mean hidden vector
    (a session summary); the algorithm's own linear head maps them to K Q-values (DQN) or K
    logits and a value (PPO).
    """

    def __init__(self, observation_space, user_size: int, k: int, per_candidate: int,
                 hidden: tuple[int, ...] = (64, 64)):
        if user_size + k * per_candidate != observation_space.shape[0]:
            raise ValueError(
                f"layout user_size={user_size} + k={k} x per_candidate={per_candidate} does not match "
                f"the observation size {observation_space.shape[0]}"
            )
        super().__init__(observation_space, features_dim=k + hidden[-1])
        self.user_size, self.k, self.per_candidate = user_size, k, per_candidate
        layers, width = [], user_size + per_candidate
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.encoder = nn.Sequential(*layers)
        self.score = nn.Linear(width, 1)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        batch = observations.shape[0]
        user = observations[:, : self.user_size]
        cands = observations[:, self.user_size :].reshape(batch, self.k, self.per_candidate)
        # Masking: a padded slot (all features zero, as the service pads short lists) scores
        # MASKED and stays out of the session summary.
        valid = cands.abs().sum(dim=-1) > 0
        pairs = torch.cat([user.unsqueeze(1).expand(-1, self.k, -1), cands], dim=-1)
        hidden = self.encoder(pairs)
        scores = torch.where(valid, self.score(hidden).squeeze(-1), torch.full_like(valid, MASKED, dtype=hidden.dtype))
        weights = valid.unsqueeze(-1).to(hidden.dtype)
        summary = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return torch.cat([scores, summary], dim=1)
