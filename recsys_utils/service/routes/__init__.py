"""The service's routers, one module per resource (``app.create_app`` includes them)."""

from . import feedback, health, movies, recommend

ROUTERS = (recommend.router, feedback.router, movies.router, health.router)
