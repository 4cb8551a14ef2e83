"""Shared pytest set-up. Fixtures for real components live in tests/support/ plugins."""

import pytest

from oauthbearer._unknown import forget_reports

pytest_plugins = [
    "tests.support.idp",  # the real authorization server (npm oidc-provider)
    "tests.support.tansu",  # the tansu broker
    "tests.support.realkafka",  # a real Apache Kafka broker from the bundle (realbroker tier)
    "tests.support.sasl_front",  # the SASL/OAUTHBEARER front standing in for a broker plugin
    "tests.support.fake_validator",  # a stub endpoint, only for testing the front itself
    "tests.support.secret_scan",  # fails the session if a test secret or token leaks
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The KIP-368 test runs last. Its 90 s producer starts with the realbroker tier's
    first test (tests/e2e/realbroker/reauth.py) and produces while everything else runs,
    so by the end of the session its test has nothing left to wait for."""
    last = [item for item in items if "realbroker/test_reauthentication.py::" in item.nodeid]
    if last:
        items[:] = [item for item in items if item not in last] + last


@pytest.fixture(autouse=True)
def _unknown_variables_reported_afresh() -> None:
    """Unknown variables are reported once per process; each test stands for a fresh one."""
    forget_reports()
