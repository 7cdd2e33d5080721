"""The network both agents use: one small MLP shared by every candidate slot."""

from __future__ import annotations

import numpy as np
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


class NumpyForward:
    """The saved network's forward pass in numpy, for serving one request at a time.

    Why: scoring one request's 5 slates through torch cost ~0.2 ms of CPU, mostly the framework's
    per-call overhead (module dispatch, tensor wrapping) around matrix products of a few
    thousand multiply-adds; the same products in numpy take a fraction of that. Training and the
    lessons keep torch. ``from_torch`` copies the weights of a ``CandidateScorer`` followed by a
    stack of ``Linear``/``ReLU``/``Tanh`` layers (what both algorithms' heads are built of), and
    gives None for any other architecture, so the caller keeps torch there; the caller also
    compares the two on random observations and uses numpy only when they agree
    (``serving.LoadedPolicy.network_scores``).
    """

    def __init__(self, user_size: int, k: int, per_candidate: int, encoder: list, score: tuple, head: list,
                 log_softmax: bool = False):
        self.user_size, self.k, self.per_candidate = user_size, k, per_candidate
        self.encoder, self.score, self.head = encoder, score, head
        self.log_softmax = log_softmax  # PPO: the categorical distribution's normalised logits

    @classmethod
    def from_torch(cls, extractor, head_modules, log_softmax: bool = False) -> NumpyForward | None:
        if not isinstance(extractor, CandidateScorer):
            return None
        encoder, head = _numpy_layers(extractor.encoder), _numpy_layers(nn.Sequential(*head_modules))
        if encoder is None or head is None:
            return None
        score = extractor.score
        bias = float(score.bias.detach()) if score.bias is not None else 0.0
        return cls(extractor.user_size, extractor.k, extractor.per_candidate, encoder,
                   (score.weight.detach().numpy()[0].copy(), np.float32(bias)), head, log_softmax)

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        obs = np.asarray(observations, dtype=np.float32)
        batch = obs.shape[0]
        user = obs[:, : self.user_size]
        cands = obs[:, self.user_size :].reshape(batch, self.k, self.per_candidate)
        valid = np.abs(cands).sum(axis=-1) > 0
        pairs = np.concatenate([np.broadcast_to(user[:, None, :], (batch, self.k, self.user_size)), cands], axis=-1)
        hidden = _apply(self.encoder, pairs)
        weight, bias = self.score
        scores = np.where(valid, hidden @ weight + bias, np.float32(MASKED))
        weights = valid[..., None].astype(np.float32)
        summary = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        out = _apply(self.head, np.concatenate([scores, summary], axis=1).astype(np.float32))
        return out - np.logaddexp.reduce(out, axis=1, keepdims=True) if self.log_softmax else out


def _numpy_layers(stack) -> list | None:
    """``[(kind, params)]`` of a Sequential of Linear/ReLU/Tanh layers, or None for anything else."""
    layers = []
    for layer in stack:
        if isinstance(layer, nn.Linear):
            bias = layer.bias.detach().numpy().copy() if layer.bias is not None else \
                np.zeros(layer.out_features, dtype=np.float32)
            layers.append(("linear", (layer.weight.detach().numpy().T.copy(), bias)))
        elif isinstance(layer, nn.ReLU):
            layers.append(("relu", None))
        elif isinstance(layer, nn.Tanh):
            layers.append(("tanh", None))
        else:
            return None
    return layers


def _apply(layers: list, x: np.ndarray) -> np.ndarray:
    for kind, params in layers:
        if kind == "linear":
            x = x @ params[0] + params[1]
        elif kind == "relu":
            x = np.maximum(x, 0.0)
        else:
            x = np.tanh(x)
    return x
