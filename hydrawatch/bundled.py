"""The data files bundled with hydrawatch (``hydrawatch.resources``), read here and parsed by the pure
parsers of detect/: the core takes data, the shell reads files."""

from __future__ import annotations

import importlib.resources

from detect.signatures import Signatures, parse_signatures


def load_signatures() -> Signatures:
    """The bundled signatures: every ``*.toml`` in ``hydrawatch.resources/signatures``, by name."""
    folder = importlib.resources.files("hydrawatch.resources").joinpath("signatures")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)
    return parse_signatures([(f.name, f.read_text(encoding="utf-8")) for f in files])
