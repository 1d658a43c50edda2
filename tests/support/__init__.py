"""Helpers the test suites share: plain modules, so that no test or conftest imports a conftest.

Conftest files hold fixtures only; every plain helper lives here: what more than one folder needs
(the repository's paths, the skip-or-fail rule for missing services, free ports, Redis helpers, the
shared fakes in ``fakes``) and each suite's own helpers (``api``, ``workers``, ``jobs``).
"""
