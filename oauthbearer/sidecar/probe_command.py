"""``oauthbearer probe``: ask the sidecar next to it whether it is alive or ready.

For container health checks that cannot use HTTP themselves. A sidecar in a broker pod
listens on loopback, which a Kubernetes ``httpGet`` probe (sent to the pod's IP) never
reaches; an ``exec`` probe running this command inside the container does. Docker's
``HEALTHCHECK`` needs a command as well. The address follows ``OAUTHBEARER_LISTEN`` (a
wildcard address is asked on loopback), and the probe speaks HTTPS when
``OAUTHBEARER_TLS_CERT_FILE`` is set, without verifying the certificate: it asks the
process beside it whether it answers, not who it is. With
``OAUTHBEARER_TLS_CLIENT_CA_FILE`` the sidecar refuses callers without a certificate,
this probe included: use a ``tcpSocket`` probe there.

Exit status 0 when the answer is 200; 1 otherwise, with the reason on stderr. Only the
standard library is imported: a probe runs every few seconds, and loading the sidecar
to ask it a question would cost more than the answer.

Example:
    >>> probe_url({"OAUTHBEARER_LISTEN": "0.0.0.0:8443",
    ...            "OAUTHBEARER_TLS_CERT_FILE": "/tls/tls.crt"}, "readyz")
    'https://127.0.0.1:8443/readyz'
    >>> probe_url({}, "healthz")
    'http://127.0.0.1:8080/healthz'
"""

from __future__ import annotations

import argparse
import http.client
import os
import ssl
import sys
from collections.abc import Mapping, Sequence
from typing import NamedTuple

__all__ = ["CHECKS", "DESCRIPTION", "add_arguments", "main", "probe_url", "run"]

#: What ``--help`` says, on the fast path and under ``oauthbearer --help`` alike.
DESCRIPTION = (
    "Ask the sidecar this container runs, at OAUTHBEARER_LISTEN (HTTPS when "
    "OAUTHBEARER_TLS_CERT_FILE is set): exit status 0 for a 200, else 1 with the reason "
    "on stderr. For exec probes of a sidecar listening on loopback."
)
#: What can be asked: alive (the process answers) or ready (it can judge tokens).
CHECKS = ("healthz", "readyz")
_DEFAULT_LISTEN = "127.0.0.1:8080"
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapped away


class _Target(NamedTuple):
    """Where the sidecar listens, as the probe reaches it."""

    scheme: str
    host: str
    port: int

    def url(self, check: str) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{shown}:{self.port}/{check}"


def _setting(environ: Mapping[str, str], name: str) -> str | None:
    # As serve reads its environment (oauthbearer._env.Env.text, which this module may
    # not import: it is kept to the standard library): stripped, and blank is unset.
    # " 0.0.0.0:8080" was a host " 0.0.0.0", and a blank TLS_CERT_FILE meant HTTPS.
    value = (environ.get(name) or "").strip()
    return value or None


def _target(environ: Mapping[str, str]) -> _Target:
    listen = _setting(environ, "OAUTHBEARER_LISTEN") or _DEFAULT_LISTEN
    host, _, port = listen.rpartition(":")
    host = _LOOPBACK.get(host.strip("[]"), host.strip("[]"))
    scheme = "https" if _setting(environ, "OAUTHBEARER_TLS_CERT_FILE") else "http"
    return _Target(scheme, host, int(port))


def probe_url(environ: Mapping[str, str], check: str) -> str:
    """The URL the probe asks, from the sidecar's own listen and TLS settings."""
    return _target(environ).url(check)


def _ask(target: _Target, check: str, timeout: float) -> tuple[int, bytes]:
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the process beside us, on loopback
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    try:
        connection.request("GET", "/" + check)
        response = connection.getresponse()
        return response.status, response.read(512)
    finally:
        connection.close()


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """Run ``oauthbearer probe [healthz|readyz] [--timeout S]``; the exit status."""
    parser = argparse.ArgumentParser(prog="oauthbearer probe", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args.check, args.timeout, os.environ if environ is None else environ)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The probe's arguments, shared by its fast path and ``oauthbearer --help``."""
    parser.add_argument(
        "check",
        nargs="?",
        choices=CHECKS,
        default="healthz",
        help="healthz: the process answers (liveness); readyz: it can judge tokens "
        "(readiness). Default: healthz",
    )
    parser.add_argument(
        "--timeout", type=float, default=2.0, metavar="S", help="seconds to wait (default 2)"
    )


def run(check: str, timeout: float, environ: Mapping[str, str]) -> int:
    """Ask once; 0 for a 200, else 1 with one line on stderr."""
    try:
        target = _target(environ)
    except ValueError:
        print("oauthbearer probe: OAUTHBEARER_LISTEN is not host:port", file=sys.stderr)
        return 1
    url = target.url(check)
    try:
        status, body = _ask(target, check, timeout)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        print(f"oauthbearer probe: {url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        said = body.decode("utf-8", "replace").strip()
        print(f"oauthbearer probe: {url} answered {status}: {said}", file=sys.stderr)
        return 1
    return 0
