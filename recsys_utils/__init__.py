"""Helper package of the course "Build a movie recommender with RAG and RL".

Each module has one job; the notebooks in ``notebooks/`` stay thin and call it.
"""

__version__ = "0.1.0"
