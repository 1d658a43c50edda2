"""Redis state: the connection, the circuit breaker, the keyspace, and the stores kept in Redis.

``state.keys.Keyspace`` names every key (its docstring is the table); ``state.endpoint`` finds
Redis (a URL, or an embedded server); ``state.guard`` puts the API's asyncio client behind a
circuit breaker; the answer cache, the semantic cache, feedback and rate limits are stores over
it. Failures surface as ``core.errors.StoreUnavailable``. This package sits below the API and the
jobs: it imports neither, nor any web framework (an import-linter contract); the API keeps HTTP.
"""
