"""Typed failures of the sandbox."""

from __future__ import annotations


class WorldError(ValueError):
    """A world file is invalid; the message is one line naming the file, phase, domain and key."""


class SandboxStartError(RuntimeError):
    """A server could not start (a port taken, or direct mode without the right to bind port 80)."""
