"""Throwaway TLS for the sandbox's HTTPS listener: a fresh CA and a loopback server certificate.

MSAL only accepts https authorities, so the sandbox also serves its app over TLS. Everything is
made at start-up (EC P-256, valid for a day), written to a private temp directory and removed by
`TlsMaterial.cleanup()`. Clients trust the listener with `verify=material.ca_bundle`.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsMaterial:
    """Where the CA bundle, the server certificate and its key were written."""

    directory: Path
    ca_bundle: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """An SSLContext for werkzeug's `make_server(..., ssl_context=...)`."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def cleanup(self) -> None:
        """Remove the temp directory."""
        shutil.rmtree(self.directory, ignore_errors=True)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SessionHub sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_tls(
    names: tuple[str, ...] = LOOPBACK_NAMES, ips: tuple[str, ...] = LOOPBACK_IPS
) -> TlsMaterial:
    """A new CA and a server certificate for `names` (SAN DNS) and `ips` (SAN IP)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("SessionHub sandbox CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0] if names else ips[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory = Path(tempfile.mkdtemp(prefix="sessionhub-sandbox-tls-"))
    material = TlsMaterial(
        directory, directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    )
    material.ca_bundle.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    material.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    material.key_file.write_bytes(_pem_key(key))
    material.key_file.chmod(0o600)
    return material
