"""Shared builder for the composition roots (CLI, API lifespan, worker init): parts from settings."""
