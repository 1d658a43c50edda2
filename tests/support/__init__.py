"""Helpers the test suites share: plain modules, so that no test or conftest imports a conftest.

Conftest files hold fixtures; what more than one folder needs (the repository's paths, the
skip-or-fail rule for missing services, free ports, Redis helpers) lives here.
"""
