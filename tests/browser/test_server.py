"""`sam2web serve` over plain HTTP: headers, MIME types, caching, ranges, and path safety."""

from __future__ import annotations

import json

import httpx
import pytest


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def test_isolation_and_csp_on_every_response(client):
    for path in ("/", "/api/models", "/demo.png", "/no-such-file"):
        r = client.get(path)
        assert r.headers["cross-origin-opener-policy"] == "same-origin"
        assert r.headers["cross-origin-embedder-policy"] == "require-corp"
        csp = r.headers["content-security-policy"]
        assert "connect-src 'self'" in csp and "default-src 'self'" in csp


def test_app_runtime_files_have_correct_types(client):
    index = client.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert index.headers["cache-control"] == "no-cache"
    for build in ("asyncify.", ""):  # onnxruntime-web's WebGPU and WASM builds
        assert (
            client.get(f"/ort/ort-wasm-simd-threaded.{build}wasm").headers["content-type"]
            == "application/wasm"
        )
        assert (
            client.get(f"/ort/ort-wasm-simd-threaded.{build}mjs")
            .headers["content-type"]
            .startswith("text/javascript")
        )
    script = next(part for part in index.text.split('"') if part.endswith(".js"))
    r = client.get("/" + script.lstrip("./"))
    assert r.headers["content-type"].startswith("text/javascript")
    assert "immutable" in r.headers["cache-control"]  # content-hashed by Vite
    assert "cdn" not in index.text.lower()


def test_model_catalogue_and_content_addressed_files(client, server):
    models = client.get("/api/models").json()["models"]
    assert [m["id"] for m in models] == ["sam2.1-hiera-test-fp32"]
    manifest = json.loads((server.store / "sam2.1-hiera-test-fp32" / "manifest.json").read_text())
    for role in ("encoder", "decoder"):
        info = manifest["files"][role]
        url = models[0]["urls"][role]
        assert url == f"/blobs/{info['sha256']}"
        r = client.get(url)
        assert r.status_code == 200 and len(r.content) == info["bytes"]
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["content-type"] == "application/octet-stream"
        part = client.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == r.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{info['bytes']}"


def test_unknown_blobs_and_path_traversal_are_refused(client, server):
    assert client.get("/blobs/" + "0" * 64).status_code == 404
    assert client.get("/blobs/../../etc/passwd").status_code == 404
    for path in (
        "/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2fpyproject.toml",
    ):
        r = client.get(path)
        assert r.status_code == 404 and "root:" not in r.text


def test_empty_store_tells_the_app_how_to_add_a_model(tmp_path):
    from serve_helpers import Server

    srv = Server(tmp_path / "empty")
    try:
        body = httpx.get(srv.url + "api/models").json()
        assert body["models"] == [] and "sam2web export" in body["how_to_add"]
    finally:
        srv.stop()


def test_https_serves_with_a_self_signed_certificate(tmp_path, monkeypatch):
    import subprocess
    import sys
    import time

    from serve_helpers import free_port

    port = free_port()
    env = {**__import__("os").environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sam2web.cli",
            "serve",
            "--https",
            "--port",
            str(port),
            "--models",
            str(tmp_path / "store"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/api/models", verify=False, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert r.status_code == 200 and r.headers["cross-origin-opener-policy"] == "same-origin"
        certs = list((tmp_path / "config").rglob("cert.pem"))
        assert certs, "certificate not written"
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(certs[0].read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in names.get_values_for_type(x509.DNSName)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
