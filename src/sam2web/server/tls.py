"""A self-signed certificate for --https (WebGPU needs a secure context off localhost)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import stat
from pathlib import Path

from sam2web.atomic import write_bytes_atomic


def self_signed_certificate(directory: Path, hosts: list[str]) -> tuple[Path, Path]:
    """Create (or reuse) cert.pem/key.pem in `directory` valid for `hosts`; return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    # Made 0700 as it is created (mkdir's mode, never a chmod after): only the user enters it.
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if stat.S_IMODE(directory.stat().st_mode) & 0o077:  # an older, looser directory
        directory.chmod(0o700)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    names = sorted(set(hosts) | {"localhost", "127.0.0.1", socket.gethostname()})
    names = [n for n in names if n not in ("0.0.0.0", "::")]
    if _reusable(cert_path, key_path, names):
        return cert_path, key_path  # the same certificate the user's browsers already accepted
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sam2web local server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    # The key is 0600 from its first byte (mkstemp), whatever mode an older file had.
    write_bytes_atomic(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_bytes_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def lan_addresses() -> list[str]:
    """This machine's addresses other devices could reach (best effort, no traffic sent)."""
    found = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(info[4][0])
    except OSError:
        pass
    return sorted(a for a in found if not a.startswith("127."))


def _reusable(cert_path: Path, key_path: Path, names: list[str]) -> bool:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if not (cert_path.is_file() and key_path.is_file()):
        return False
    if stat.S_IMODE(key_path.stat().st_mode) & 0o077:
        return False  # others could read this key: it is replaced, not reused
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError, x509.ExtensionNotFound):
        return False
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(
        serialization.Encoding.PEM, public
    ) != cert.public_key().public_bytes(serialization.Encoding.PEM, public):
        return False  # a key left from an interrupted earlier run
    covered = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    covered |= set(san.get_values_for_type(x509.DNSName))
    fresh = cert.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + datetime.timedelta(
        days=1
    )
    return fresh and set(names) <= covered
