"""The HTTP API: FastAPI app factory, routes, wire schemas, auth, and the answer services over ``state``.

``fastapi`` is imported only in this package (an import-linter contract). Start it with
``ragqa serve``, or build the app yourself::

    from api.app import create_app
    app = create_app(Settings())
"""
