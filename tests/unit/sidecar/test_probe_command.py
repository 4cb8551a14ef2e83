"""``oauthbearer probe`` against a real HTTP server on loopback that answers as told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from oauthbearer.cli import main
from oauthbearer.sidecar.probe_command import probe_url, run


class _Sidecar(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, bytes]]] = {
        "/healthz": (200, b"ok"),
        "/readyz": (503, b'{"ready": false, "jwks": "never loaded"}'),
    }

    def do_GET(self) -> None:
        status, body = self.answers.get(self.path, (404, b""))
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - its signature
        pass


@pytest.fixture
def listen() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sidecar)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_alive_is_status_zero(listen: str) -> None:
    assert run("healthz", 2.0, {"OAUTHBEARER_LISTEN": listen}) == 0


def test_not_ready_is_status_one_with_what_the_sidecar_said(
    listen: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("readyz", 2.0, {"OAUTHBEARER_LISTEN": listen}) == 1
    said = capsys.readouterr().err
    assert f"http://{listen}/readyz answered 503" in said
    assert "never loaded" in said


def test_the_command_line_takes_the_fast_path(listen: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHBEARER_LISTEN", listen)
    assert main(["probe"]) == 0
    assert main(["probe", "readyz"]) == 1
    with pytest.raises(SystemExit):
        main(["probe", "livez"])  # not a check: argparse's usage error


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({"OAUTHBEARER_LISTEN": "[::]:8080"}, "http://[::1]:8080/healthz"),
        ({"OAUTHBEARER_LISTEN": "10.1.2.3:9000"}, "http://10.1.2.3:9000/healthz"),
        ({"OAUTHBEARER_TLS_CERT_FILE": "/tls/tls.crt"}, "https://127.0.0.1:8080/healthz"),
        # Read as serve reads them: stripped, blank is unset.
        ({"OAUTHBEARER_LISTEN": " 0.0.0.0:8080 "}, "http://127.0.0.1:8080/healthz"),
        ({"OAUTHBEARER_TLS_CERT_FILE": " "}, "http://127.0.0.1:8080/healthz"),
        ({"OAUTHBEARER_LISTEN": ""}, "http://127.0.0.1:8080/healthz"),
    ],
)
def test_the_url_follows_the_sidecars_own_settings(environ: dict[str, str], url: str) -> None:
    assert probe_url(environ, "healthz") == url
