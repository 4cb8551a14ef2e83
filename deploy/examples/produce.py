"""Produce a few messages through SASL/OAUTHBEARER with oauthbearer's oauth_cb.

Configured by jairsjunior's OAUTH_LOGIN_* block plus BOOTSTRAP_SERVERS and TOPIC.
"""

from __future__ import annotations

import os
import sys

from confluent_kafka import Producer

from oauthbearer import oauth_cb


def main() -> int:
    producer = Producer(
        {
            "bootstrap.servers": os.environ.get("BOOTSTRAP_SERVERS", "localhost:9092"),
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "OAUTHBEARER",
            "oauth_cb": oauth_cb,
        }
    )
    topic = os.environ.get("TOPIC", "oauthbearer-demo")
    failures: list[str] = []

    def on_delivery(err: object, msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    for i in range(10):
        producer.produce(topic, f"message {i}".encode(), on_delivery=on_delivery)
    remaining = producer.flush(30)
    if remaining or failures:
        print(f"not delivered: {remaining} pending, errors: {failures}", file=sys.stderr)
        return 1
    print(f"10 messages delivered to {topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
