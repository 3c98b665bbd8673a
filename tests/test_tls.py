"""The self-signed certificate of `sam2web serve --https`: its private key is the user's alone from
its first byte on (never written first and chmod-ed after), and it is reused only while it is."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sam2web.server.tls import self_signed_certificate


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def public_pem(key) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def assert_pair(cert: Path, key: Path) -> None:
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert public_pem(private.public_key()) == public_pem(certificate.public_key())


@pytest.fixture
def umask_0():
    old = os.umask(0)  # the loosest a user can have: every bit a file is created with stays
    yield
    os.umask(old)


@pytest.fixture
def no_chmod(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("permissions set after the file was created")

    monkeypatch.setattr(os, "chmod", refuse)
    monkeypatch.setattr(Path, "chmod", refuse)


def test_key_is_created_0600_in_a_0700_directory(tmp_path, umask_0, no_chmod):
    directory = tmp_path / "config" / "sam2web" / "tls"
    cert, key = self_signed_certificate(directory, ["127.0.0.1", "192.168.1.20"])
    assert mode(key) == 0o600 and mode(directory) == 0o700
    assert_pair(cert, key)
    assert sorted(p.name for p in directory.iterdir()) == ["cert.pem", "key.pem"]


def test_a_readable_old_key_is_replaced_by_a_0600_one(tmp_path, umask_0, no_chmod):
    directory = tmp_path / "tls"
    directory.mkdir(mode=0o700)
    # A valid pair from an older sam2web, whose key others could read: never reused.
    old_cert, old_key = self_signed_certificate(directory, ["127.0.0.1"])
    old_bytes = old_key.read_bytes()
    os.umask(0o022)
    old_key.unlink()
    old_key.write_bytes(old_bytes)
    assert mode(old_key) == 0o644
    cert, key = self_signed_certificate(directory, ["127.0.0.1"])
    assert mode(key) == 0o600 and key.read_bytes() != old_bytes
    assert_pair(cert, key)


def test_the_same_certificate_is_reused_while_it_fits(tmp_path):
    directory = tmp_path / "tls"
    cert, key = self_signed_certificate(directory, ["127.0.0.1", "10.0.0.5"])
    before = cert.read_bytes(), key.read_bytes()
    assert self_signed_certificate(directory, ["10.0.0.5"]) == (cert, key)
    assert (cert.read_bytes(), key.read_bytes()) == before  # the browsers' accepted certificate
    # A new address needs a new certificate; a key that is not the certificate's (an interrupted
    # earlier run) is replaced too.
    self_signed_certificate(directory, ["10.0.0.6"])
    assert cert.read_bytes() != before[0]
    other = tmp_path / "other"
    self_signed_certificate(other, ["10.0.0.6"])
    key.write_bytes((other / "key.pem").read_bytes())
    os.chmod(key, 0o600)
    self_signed_certificate(directory, ["10.0.0.6"])
    assert_pair(cert, key)


def test_a_loose_directory_is_tightened(tmp_path):
    directory = tmp_path / "tls"
    directory.mkdir()
    directory.chmod(0o755)
    self_signed_certificate(directory, ["127.0.0.1"])
    assert mode(directory) == 0o700 and mode(directory / "key.pem") == 0o600
