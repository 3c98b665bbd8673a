"""The official-checkpoint download code, against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from sam2web.errors import Sam2WebError
from sam2web.export.checkpoint import download_checkpoint
from sam2web.export.models import get_spec


class RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    served = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
        body = self.payload[start:]
        self.served.append((self.path, start))
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    RangeHandler.payload = bytes(range(256)) * 40_000  # ~10 MB
    RangeHandler.served = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_resumes_a_partial_file(tmp_path, server, monkeypatch):
    monkeypatch.setenv("SAM2WEB_CHECKPOINT_BASE_URL", server + "/ckpts")
    spec = get_spec("sam2.1-hiera-tiny")
    payload = RangeHandler.payload
    partial = tmp_path / "sam2.1_hiera_tiny.pt.part"
    partial.write_bytes(payload[:3_000_000])  # an earlier, interrupted download
    path = download_checkpoint(spec, tmp_path)
    assert path.name == "sam2.1_hiera_tiny.pt"
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(payload).digest()
    assert RangeHandler.served == [("/ckpts/sam2.1_hiera_tiny.pt", 3_000_000)]
    assert not partial.exists()
    # Present already: no second request.
    assert download_checkpoint(spec, tmp_path) == path
    assert len(RangeHandler.served) == 1


def test_official_address_and_unreachable_host(tmp_path, monkeypatch):
    spec = get_spec("sam2.1-hiera-large")
    assert spec.checkpoint_url.endswith("/092824/sam2.1_hiera_large.pt")
    assert get_spec("sam2-hiera-base-plus").checkpoint_url.endswith(
        "/072824/sam2_hiera_base_plus.pt"
    )
    monkeypatch.setenv("SAM2WEB_CHECKPOINT_BASE_URL", "http://127.0.0.1:9")  # discard port
    with pytest.raises(Sam2WebError, match="could not download"):
        download_checkpoint(spec, tmp_path)
