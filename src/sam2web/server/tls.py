"""A self-signed certificate for --https (WebGPU needs a secure context off localhost)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
from pathlib import Path


def self_signed_certificate(directory: Path, hosts: list[str]) -> tuple[Path, Path]:
    """Create (or reuse) cert.pem/key.pem in `directory` valid for `hosts`; return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
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
    now = datetime.datetime.now(datetime.timezone.utc)
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
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
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

    if not (cert_path.is_file() and key_path.is_file()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    covered = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    covered |= set(san.get_values_for_type(x509.DNSName))
    fresh = cert.not_valid_after_utc > datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(days=1)
    return fresh and set(names) <= covered
