"""Code that exists only for the lessons: budgets, findings prose, plots, exercise checks.

Library packages (``data``, ``embeddings``, ``vectorstore``, ``retrieval``, ``rl``, ``explain``,
``service``) never import from here; what a reader would reuse outside the course lives there.
"""
