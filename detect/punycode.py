"""Punycode encoding (RFC 3492 §6.3) of one label, equal to Python's ``str.encode("punycode")``.

The standard library's codec finds each next code point by rescanning the label for every insertion
(``encodings.punycode.insertion_unsort``); this is the RFC's loop over the label's distinct code
points, several times faster on the short labels lookalike generation produces by the ten thousand
(tests/detect/test_punycode.py checks it against the codec).
"""

from __future__ import annotations

_DIGITS = "abcdefghijklmnopqrstuvwxyz0123456789"
_BASE, _TMIN, _TMAX, _SKEW, _DAMP = 36, 1, 26, 38, 700


def _adapt(delta: int, points: int, first: bool) -> int:
    delta = delta // _DAMP if first else delta // 2
    delta += delta // points
    k = 0
    while delta > ((_BASE - _TMIN) * _TMAX) // 2:
        delta //= _BASE - _TMIN
        k += _BASE
    return k + (_BASE - _TMIN + 1) * delta // (delta + _SKEW)


def encode(label: str) -> str:
    """The Punycode form of ``label`` (without the ``xn--`` prefix), as ``label.encode("punycode")``."""
    points = [ord(c) for c in label]
    basic = "".join(c for c in label if ord(c) < 0x80)
    out = [basic + "-"] if basic else []
    handled = len(basic)
    first_extended = handled
    n, delta, bias = 0x80, 0, 72
    for m in sorted({p for p in points if p >= 0x80}):
        delta += (m - n) * (handled + 1)
        n = m
        for p in points:
            if p < n:
                delta += 1
            elif p == n:
                q, k = delta, _BASE
                while True:
                    t = _TMIN if k <= bias else _TMAX if k >= bias + _TMAX else k - bias
                    if q < t:
                        break
                    out.append(_DIGITS[t + (q - t) % (_BASE - t)])
                    q = (q - t) // (_BASE - t)
                    k += _BASE
                out.append(_DIGITS[q])
                bias = _adapt(delta, handled + 1, handled == first_extended)
                delta = 0
                handled += 1
        delta += 1
        n += 1
    return "".join(out)
