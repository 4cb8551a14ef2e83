"""Shared pytest set-up. Fixtures for real components live in tests/support/ plugins."""

import os
from pathlib import Path

import pytest

from oauthbearer import _compiled
from oauthbearer._unknown import forget_reports

pytest_plugins = [
    "tests.support.idp",  # the real authorization server (npm oidc-provider)
    "tests.support.tansu",  # the tansu broker
    "tests.support.realkafka",  # a real Apache Kafka broker from the bundle (realbroker tier)
    "tests.support.sasl_front",  # the SASL/OAUTHBEARER front standing in for a broker plugin
    "tests.support.fake_validator",  # a stub endpoint, only for testing the front itself
    "tests.support.secret_scan",  # fails the session if a test secret or token leaks
]


def pytest_sessionstart(session: pytest.Session) -> None:
    """With ``OAUTHBEARER_TEST_COMPILED=1`` (scripts/check-compiled), refuse to run unless
    every module the build compiles is loaded compiled, from outside this tree: a run on
    the interpreted source would pass for the compiled build without testing it."""
    if os.environ.get("OAUTHBEARER_TEST_COMPILED") != "1":
        return
    missing = sorted(set(_compiled.MODULES) - set(_compiled.compiled()))
    if missing:
        raise pytest.UsageError(f"OAUTHBEARER_TEST_COMPILED=1, but not compiled: {missing}")
    package = Path(_compiled.__file__).resolve().parent
    if package.is_relative_to(Path(str(session.config.rootpath)).resolve()):
        raise pytest.UsageError(f"OAUTHBEARER_TEST_COMPILED=1, but oauthbearer is {package}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``OAUTHBEARER_TEST_COMPILED=1`` the ``pure_python`` tests are deselected
    (they replace a compiled function, to no effect), whatever ``-m`` says.

    The KIP-368 test runs last. Its 90 s producer starts with the realbroker tier's
    first test (tests/e2e/realbroker/reauth.py) and produces while everything else runs,
    so by the end of the session its test has nothing left to wait for."""
    if os.environ.get("OAUTHBEARER_TEST_COMPILED") == "1":
        pure = [item for item in items if item.get_closest_marker("pure_python")]
        if pure:
            config.hook.pytest_deselected(items=pure)
            items[:] = [item for item in items if item not in pure]
    last = [item for item in items if "realbroker/test_reauthentication.py::" in item.nodeid]
    if last:
        items[:] = [item for item in items if item not in last] + last


@pytest.fixture(autouse=True)
def _unknown_variables_reported_afresh() -> None:
    """Unknown variables are reported once per process; each test stands for a fresh one."""
    forget_reports()
