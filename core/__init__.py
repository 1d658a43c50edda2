"""Shared kernel: settings, domain types, the error tree and role protocols. Imports nothing of ours."""
