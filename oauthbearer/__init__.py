"""SASL/OAUTHBEARER for Kafka, end to end.

Filled in by the client half: ``oauth_cb``, ``TokenProvider`` and the errors.
"""

__version__ = "0.1.0"
