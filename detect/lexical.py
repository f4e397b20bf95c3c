"""Is a name lexically close to one of the network's labels? Built for NRD feeds (10^6 lines a day).

A feed entry matches a network label when, comparing the entry's registrable label L with a label N:

1. ``L == N`` — the same label on another suffix (``artichoc.cc`` for ``artichoc.io``);
2. ``L`` contains ``N`` and ``len(N) >= 5`` (``rrn`` is too short to mean anything inside another word);
3. their homoglyph skeletons are equal: Unicode lookalikes (dnstwist's glyph tables, Cyrillic) folded to
   Latin, then ``0→o``, ``1/i→l``, ``rn→m``, ``vv→w``, ``cl→d`` (``washingt0npost``, ``xn--…`` forms);
4. Damerau-Levenshtein (optimal string alignment) distance ``<= k(N)``, with ``k = 1`` for
   ``5 <= len(N) <= 10`` and ``k = 2`` for ``len(N) >= 11``; labels shorter than 5 need rules 1 or 3.

Speed: everything is pre-indexed once per label set (a dict per rule; rule 4 is a SymSpell deletion index),
so a feed line costs a few dozen dict look-ups; the exact distance is computed only for the few labels
that pass a filter: a shared one-deletion variant (SymSpell: one edit) or, for two edits on a long label,
an intact region (pigeonhole over three separated regions of the label). Memory is bounded by the label
set, never by the feed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dnstwist  # type: ignore[import-untyped]
import idna

from detect.similarity import osa_distance

MIN_CONTAINED = 5  # rule 2: a network label of at least this many characters inside a feed label
MIN_FUZZY = 5  # rule 4: shorter network labels are matched only exactly or by skeleton
LONG = 11  # rule 4: from this length on, two edits are allowed (regions below need >= 11)

_ASCII_FOLDS = (("0", "o"), ("1", "l"), ("i", "l"), ("rn", "m"), ("vv", "w"), ("cl", "d"))


def max_distance(label: str) -> int:
    """The edit distance allowed around a network label of this length (rule 4)."""
    n = len(label)
    return 0 if n < MIN_FUZZY else 1 if n < LONG else 2


def _glyph_table() -> dict[int, str]:
    """Unicode confusable → Latin, from dnstwist's own homoglyph tables (not a list of ours)."""
    table: dict[int, str] = {}
    sources: list[dict[str, tuple[str, ...]]] = [dnstwist.Fuzzer.glyphs_unicode]
    sources += list(dnstwist.Fuzzer.glyphs_idn_by_tld.values())
    for source in sources:
        for latin, glyphs in sorted(source.items()):
            for glyph in glyphs:
                if len(glyph) == 1 and not glyph.isascii():
                    table.setdefault(ord(glyph), latin)
    for latin, glyph in sorted(dnstwist.Fuzzer.latin_to_cyrillic.items()):
        table.setdefault(ord(glyph), latin)
    return table


def _one_deletions(word: str) -> Iterator[str]:
    yield word
    for i in range(len(word)):
        yield word[:i] + word[i + 1:]


def _label_of(text: str) -> str:
    """The first DNS label, lower case: feed entries are registrable domains, so this is their label."""
    text = text.strip().lower().rstrip(".")
    dot = text.find(".")
    return text[:dot] if dot > 0 else text


class LabelIndex:
    """The network's labels pre-indexed for :meth:`match` (rules in the module docstring)."""

    def __init__(self, labels: Iterable[str]) -> None:
        self._glyphs = _glyph_table()
        self.labels: tuple[str, ...] = tuple(sorted({_label_of(x) for x in labels if _label_of(x)}))
        self._exact = frozenset(self.labels)
        self._contained: dict[str, list[str]] = {}  # first MIN_CONTAINED chars → labels starting so
        self._skeletons: dict[str, str] = {}
        self._deletes: dict[str, list[str]] = {}  # the label and its one-deletion variants → labels
        # Two-edit filter (pigeonhole): a long label N has three regions separated by one character,
        # N[:3], N[4:7] and N[-3:]; one edit touches at most one region, so after two edits one is intact.
        self._heads: dict[str, list[str]] = {}
        self._tails: dict[str, list[str]] = {}
        self._middles: dict[str, list[str]] = {}
        for label in self.labels:
            if len(label) >= MIN_CONTAINED:
                self._contained.setdefault(label[:MIN_CONTAINED], []).append(label)
            self._skeletons.setdefault(self.skeleton(label), label)
            if max_distance(label):
                for variant in set(_one_deletions(label)):
                    self._deletes.setdefault(variant, []).append(label)
            if max_distance(label) == 2:
                self._heads.setdefault(label[:3], []).append(label)
                self._tails.setdefault(label[-3:], []).append(label)
                self._middles.setdefault(label[4:7], []).append(label)

    def skeleton(self, label: str) -> str:
        """``label`` with homoglyphs folded (rule 3); ``xn--`` labels are decoded first."""
        if label.startswith("xn--"):
            try:
                label = idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                return label
        out = label.translate(self._glyphs)
        for old, new in _ASCII_FOLDS:
            if old in out:
                out = out.replace(old, new)
        return out

    def match(self, name: str) -> str | None:
        """The network label ``name`` (a feed entry: domain or label) is lexically close to, else None."""
        label = _label_of(name)
        if not label or label.startswith("#"):
            return None
        if label in self._exact:
            return label
        for i in range(len(label) - MIN_CONTAINED + 1):
            for found in self._contained.get(label[i:i + MIN_CONTAINED], ()):
                if label.startswith(found, i):
                    return found
        twin = self._skeletons.get(self.skeleton(label))
        if twin is not None:
            return twin
        return self._fuzzy(label)

    def _fuzzy(self, label: str) -> str | None:
        n = len(label)
        if n < MIN_FUZZY - 1:
            return None
        deletes = self._deletes
        candidates: set[str] = set()
        hits = deletes.get(label)
        if hits:
            candidates.update(hits)
        for i in range(n):  # one deletion on each side covers every single edit
            hits = deletes.get(label[:i] + label[i + 1:])
            if hits:
                candidates.update(hits)
        if self._heads and n >= LONG - 2:
            for hits in (self._heads.get(label[:3]), self._tails.get(label[-3:]), *map(
                    self._middles.get, (label[2:5], label[3:6], label[4:7], label[5:8], label[6:9]))):
                if hits:  # N[4:7] moves by at most two places in L
                    candidates.update(x for x in hits if abs(len(x) - n) <= 2)
        if not candidates:
            return None
        best: tuple[int, str] | None = None
        for cand in sorted(candidates):
            k = max_distance(cand)
            dist = osa_distance(label, cand, k)
            if dist <= k and (best is None or dist < best[0]):
                best = (dist, cand)
        return best[1] if best else None


def nrd_lexical_match(name: str, network_labels: LabelIndex | Iterable[str]) -> str | None:
    """The network label that feed entry ``name`` is lexically close to, or None.

    Pass a :class:`LabelIndex` built once for a whole feed; a plain iterable of labels (or domains) is
    indexed on every call, which is fine for one name and far too slow for a feed.
    """
    index = network_labels if isinstance(network_labels, LabelIndex) else LabelIndex(network_labels)
    return index.match(name)
