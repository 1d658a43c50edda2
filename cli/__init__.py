"""The `ragqa` command: a composition root over everything; nothing imports it."""
