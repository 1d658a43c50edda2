"""The HTTP API: FastAPI app factory, routes, wire schemas, the Redis answer cache, auth and rate limits.

``fastapi`` is imported only in this package (an import-linter contract). Start it with
``ragqa serve``, or build the app yourself::

    from api.app import create_app
    app = create_app(Settings())
"""
