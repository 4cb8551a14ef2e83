"""Shared pytest set-up. Fixtures for real components live in tests/support/ plugins."""

pytest_plugins = [
    "tests.support.idp",  # the real authorization server (npm oidc-provider)
    "tests.support.tansu",  # the tansu broker
    "tests.support.realkafka",  # a real Apache Kafka broker from the bundle (realbroker tier)
    "tests.support.sasl_front",  # the SASL/OAUTHBEARER front standing in for a broker plugin
    "tests.support.fake_validator",  # a stub endpoint, only for testing the front itself
    "tests.support.secret_scan",  # fails the session if a test secret or token leaks
]
