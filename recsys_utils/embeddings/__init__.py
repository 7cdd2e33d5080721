"""MiniLM sentence embeddings for movies and users (lesson 02).

- ``Embedder``: model resolution (local folder, Hub, verified bundled weights), one model per
  process, disk cache keyed by model and text hash.
- ``movie_embeddings``: the vectors of ``movies["text"]``, row-aligned with ``movies``.
- ``user_embedding`` / ``user_embeddings`` / ``update_user_embedding``: users in the same space.
- ``ensure_taste_text`` / ``ensure_text_index``: MiniLM tuned on what the same users like (``taste``).
"""

from .encoder import Embedder, movie_embeddings
from .model import ModelResolutionError, ResolvedModel, hub_is_reachable, resolve_model
from .taste import TasteText, ensure_taste_text, ensure_text_index
from .users import update_user_embedding, user_embedding, user_embeddings

__all__ = [
    "Embedder",
    "ModelResolutionError",
    "ResolvedModel",
    "TasteText",
    "ensure_taste_text",
    "ensure_text_index",
    "hub_is_reachable",
    "movie_embeddings",
    "resolve_model",
    "update_user_embedding",
    "user_embedding",
    "user_embeddings",
]
