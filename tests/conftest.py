"""Shared pytest set-up. Fixtures for real components live in tests/support/ plugins."""

pytest_plugins = ["tests.support.idp"]
