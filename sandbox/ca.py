"""The sandbox certificate authority: a fresh CA per start, and per-site certificates (EC P-256, fast)."""

from __future__ import annotations

import ipaddress
import ssl
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sandbox.model import TlsSpec


def _name(common_name: str, org: str = "") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _san(name: str) -> x509.GeneralName:
    """A SAN entry: an IP address for a service reached by address (SMTP on 127.0.0.1), else a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


class SandboxCA:
    """Issues the certificates the HTTPS server presents; clients trust `pem` (Sandbox.ca_pem)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        self.subject = _name("hydrawatch sandbox CA", "hydrawatch sandbox")
        self.cert = (
            x509.CertificateBuilder().subject_name(self.subject).issuer_name(self.subject)
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self._dir = tempfile.TemporaryDirectory(prefix="hydrawatch-sandbox-ca-")
        self._contexts: dict[TlsSpec, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._dir.cleanup()

    def pem_file(self) -> Path:
        """The CA certificate as a PEM file (for clients configured with a CA file, e.g. alerts.smtp_ca_file)."""
        path = Path(self._dir.name) / "sandbox-ca.pem"
        if not path.exists():
            path.write_text(self.pem, encoding="ascii")
        return path

    def context_for(self, spec: TlsSpec) -> ssl.SSLContext:
        """A server-side SSLContext presenting the certificate `spec` describes (cached)."""
        with self._lock:
            ctx = self._contexts.get(spec)
            if ctx is None:
                ctx = self._contexts[spec] = self._make_context(spec)
            return ctx

    def _make_context(self, spec: TlsSpec) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        if spec.expired:
            not_before, not_after = now - timedelta(days=400), now - timedelta(days=10)
        else:
            not_before, not_after = now - timedelta(days=1), now + timedelta(days=90)
        subject = _name(spec.names[0] if spec.names else "sandbox.invalid")
        issuer_key, issuer = (key, subject) if spec.self_signed else (self._key, self.subject)
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        if spec.names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_san(n) for n in spec.names]), critical=False)
        if not spec.self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        cert = builder.sign(issuer_key, hashes.SHA256())
        stem = Path(self._dir.name) / f"site{len(self._contexts)}"
        cert_file, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
        chain = cert.public_bytes(serialization.Encoding.PEM)
        if not spec.self_signed:
            chain += self.cert.public_bytes(serialization.Encoding.PEM)
        cert_file.write_bytes(chain)
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_file, key_file)
        return ctx
