"""Turn what Scrapy/Twisted hand back (exceptions, certificates) into detect.model values."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from crawler.headcap import HeadersTooLarge
from crawler.resolver import BlockedAddress, ResolveError
from detect.model import ErrorKind, TlsCert


def _chain(exc: BaseException) -> list[Any]:
    """The exception, its causes and Twisted's wrapped ``reasons`` (Failures), flattened."""
    seen: list[Any] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 32:
        item = todo.pop()
        # Twisted's Failure is itself a BaseException subclass (Twisted >= 24): unwrap it by type.
        if not isinstance(item, BaseException) or _is_failure(item):
            item = getattr(item, "value", item)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend(getattr(item, "reasons", None) or [])
        for nxt in (getattr(item, "__cause__", None), getattr(item, "__context__", None)):
            if nxt is not None:
                todo.append(nxt)
    return seen


def headers_too_large(exc: BaseException) -> HeadersTooLarge | None:
    """The HeadersTooLarge inside a download failure (Twisted wraps it in ResponseFailed), or None."""
    return next((i for i in _chain(exc) if isinstance(i, HeadersTooLarge)), None)


def _is_failure(item: object) -> bool:
    return type(item).__name__ == "Failure" and type(item).__module__ == "twisted.python.failure"


def _names(items: list[Any]) -> set[str]:
    return {f"{type(i).__module__}.{type(i).__name__}" for i in items}


def classify(exc: BaseException) -> tuple[ErrorKind, str]:
    """(ErrorKind, one-line message) for an exception raised by a crawl download."""
    items = _chain(exc)
    names = _names(items)
    message = "; ".join(dict.fromkeys(f"{type(i).__name__}: {i}".strip() for i in items))[:500]
    for item in items:
        if isinstance(item, BlockedAddress):
            return ErrorKind.BLOCKED_PRIVATE, str(item)
        if isinstance(item, ResolveError):
            return ErrorKind.DNS, str(item)
        if isinstance(item, HeadersTooLarge):
            return ErrorKind.TOO_LARGE, str(item)
    if any("_DecompressionMaxSizeExceeded" in n for n in names):
        return ErrorKind.TOO_LARGE, message
    if any(n.endswith(("DownloadTimeoutError", "TimeoutError", "TCPTimedOutError", "UserTimeoutError"))
           for n in names):
        return ErrorKind.TIMEOUT, message
    if any(n.startswith("OpenSSL.") or "SSL" in n or "TLS" in n for n in names):
        return ErrorKind.TLS, message
    if any(n.endswith(("DNSLookupError", "CannotResolveHostError")) for n in names):
        return ErrorKind.DNS, message
    if any(n.endswith(("ParseError", "BadHeaders", "BadResponseVersion")) for n in names):
        return ErrorKind.MALFORMED, message
    if any(n.endswith("BadGzipFile") or n.startswith(("zlib.", "brotli.", "_brotli.", "backports.zstd",
                                                      "compression.zstd")) for n in names):
        return ErrorKind.DECODE, message
    if any(n.endswith(("DownloadCancelledError",)) for n in names) and "max size" in message:
        return ErrorKind.TOO_LARGE, message
    if any(n.endswith(("ConnectionRefusedError", "ConnectionLost", "ConnectionDone", "ConnectError",
                       "ResponseDataLossError", "_DataLoss", "ConnectionAborted", "TunnelError",
                       "DownloadConnectionRefusedError", "DownloadFailedError", "ResponseFailed",
                       "ResponseNeverReceived", "NoRouteError", "ConnectingCancelledError",
                       "ConnectionResetError", "ConnectionClosed"))
           for n in names):
        return ErrorKind.CONNECTION, message
    if any(isinstance(i, OSError) for i in items):
        return ErrorKind.DECODE if any("gzip" in str(i).lower() for i in items) else ErrorKind.CONNECTION, message
    return ErrorKind.OTHER, message


def tls_cert(certificate: Any) -> TlsCert | None:
    """A TlsCert from Scrapy's ``response.certificate`` (twisted.internet.ssl.Certificate)."""
    if certificate is None:
        return None
    original = getattr(certificate, "original", certificate)
    if hasattr(original, "to_cryptography"):  # pyOpenSSL's X509: read by its DER, the same bytes each time
        from OpenSSL.crypto import FILETYPE_ASN1, dump_certificate

        return _cert_of_der(dump_certificate(FILETYPE_ASN1, original))
    return _cert_of(original)


@functools.lru_cache(maxsize=1024)
def _cert_of_der(der: bytes) -> TlsCert:
    """A certificate's TlsCert by its DER bytes: a site's pages (home over HTTPS, favicon, redirect hops)
    show the same certificate, read once (TlsCert is immutable)."""
    from cryptography import x509

    return _cert_of(x509.load_der_x509_certificate(der))


def _cert_of(cert: Any) -> TlsCert:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = tuple(ext.get_values_for_type(x509.DNSName)) + tuple(
            str(ip) for ip in ext.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        sans = ()
    except ValueError:  # a malformed extension must not lose the rest of the certificate
        sans = ()
    return TlsCert(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=tuple(s.lower() for s in sans),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
        self_signed=cert.subject == cert.issuer,
    )
