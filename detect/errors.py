"""The one base of hydrawatch's user-facing errors.

Every error hydrawatch reports to a user as one line derives from :class:`HydrawatchError`; the shell
catches that one class, prints ``hydrawatch: [label: ]message`` and exits with ``exit_code``. It lives in
the pure core so that every layer can derive from it without importing upward.
"""

from __future__ import annotations

from typing import ClassVar


class HydrawatchError(Exception):
    """Every error hydrawatch reports to a user as one line derives from it.

    ``exit_code`` is the process exit status the shell returns (1 unless a subclass or instance says
    otherwise); ``label``, when set, is printed before the message (e.g. ``config error``).
    """

    exit_code: int = 1
    label: ClassVar[str] = ""
