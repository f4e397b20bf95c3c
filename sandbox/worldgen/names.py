"""Invented names for a generated world: brand labels, outlet names, typos, TLDs, registrars, IPs, ids.

Everything here is drawn from a `random.Random` handed in by the caller, so one seed gives one world.
The TLD pools mix gTLDs that have RDAP in the IANA bootstrap with ccTLDs that do not (.de .eu .io
.so .co …): a real hunt gets no registration date for the latter, and the worlds must reflect that.
"""

from __future__ import annotations

import random
import string

# Brand words operators glue into "unique media brand" names; GENERIC ones are too common to hunt on.
BRAND_WORDS = (
    "vox", "patria", "herald", "liberty", "wire", "pulse", "front", "nation", "voice", "echo", "signal",
    "chronicle", "observer", "tribune", "insider", "gazette", "courier", "review", "digest", "ledger",
    "compass", "beacon", "dispatch", "forum", "lens", "anvil", "harbor", "summit", "citadel", "meridian",
    "vanguard", "sentinel", "ember", "granite", "horizon", "orbit", "torch", "vertex", "rampart", "bastion",
)
GENERIC = frozenset({
    "news", "daily", "truth", "world", "today", "info", "online", "media", "post", "report", "free", "real",
    "true", "euro", "the", "best", "live", "now", "global", "first", "press", "times", "week", "hub",
    "herald", "gazette", "courier", "chronicle", "observer", "tribune", "review", "digest", "voice", "nation",
    "insider", "forum", "signal", "echo", "wire", "front", "pulse",
})
GENERIC_WORDS = ("news", "daily", "truth", "world", "today", "media", "post", "report", "free", "real",
                 "euro", "live", "now", "global", "times", "week")
ONSETS = ("b", "br", "ch", "d", "dr", "f", "g", "gr", "k", "kl", "l", "m", "n", "p", "pr", "r", "s", "st",
          "t", "tr", "v", "z")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ei")
CODAS = ("", "", "n", "r", "s", "l", "m", "x", "ck", "nd", "rt")

# Network TLDs: the 2024 wave moved to two-letter ccTLDs (.so .pw .cc .to .co).
SEED_TLDS = ("com", "net", "org", "info", "news", "online", "press", "site", "live", "top", "xyz", "io",
             "co", "so", "pw", "cc", "to", "de", "fr", "it", "es", "pl", "eu", "ltd", "pm", "media")
SWAP_TLDS = ("so", "pw", "cc", "to", "co", "io", "eu", "me", "ws", "su", "today", "world", "one", "tv",
             "fyi", "lol", "icu", "cyou", "bond", "sbs", "click", "news", "press", "site", "online", "top")
CLONE_TLDS = ("ltd", "pm", "top", "in", "wf", "re", "yt", "tf", "eu", "cc", "pw", "so", "to", "co", "io")
DECOY_TLDS = ("com", "com", "com", "net", "org", "shop", "store", "de", "fr", "it", "es", "pl", "eu", "io",
              "co", "online", "site", "xyz", "info", "blog", "art", "studio", "cafe")
NO_RDAP_SWAP = ("so", "co", "io", "eu", "me", "de", "su", "ws")   # two-letter moves without RDAP
NO_RDAP_CCTLDS = ("de", "eu", "io", "co", "so", "it", "es", "at", "ch", "be", "se", "me", "ie", "dk")

KEYBOARD = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij", "i": "uok", "o": "ipl",
    "p": "ol", "a": "qsz", "s": "adwx", "d": "sfe", "f": "dgr", "g": "fht", "h": "gjy", "j": "hku", "k": "jli",
    "l": "ko", "z": "asx", "x": "zsc", "c": "xvd", "v": "cbf", "b": "vng", "n": "bmh", "m": "nj",
}


def coin(rng: random.Random, syllables: int = 2) -> str:
    """A pronounceable invented word such as 'brakoun' or 'tristel'."""
    word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(syllables)) + rng.choice(CODAS)
    return word[:10]


def brand_label(rng: random.Random) -> tuple[str, list[str]]:
    """A unique-media-brand label and its parts (the parts feed keyword hunts such as CT search)."""
    shape = rng.random()
    a, b = rng.sample(BRAND_WORDS, 2)
    if shape < 0.30:
        parts = [a, b]
        return a + b, parts
    if shape < 0.50:
        parts = [a, b]
        return f"{a}-{b}", parts
    if shape < 0.65:
        g = rng.choice(GENERIC_WORDS)
        parts = [a, g] if rng.random() < 0.5 else [g, a]
        return "".join(parts), parts
    if shape < 0.80:
        c = coin(rng)
        return c, [c]
    if shape < 0.90:
        c = coin(rng)
        g = rng.choice(GENERIC_WORDS)
        return f"{c}{g}", [c, g]
    parts = [a, b]
    return f"{a}{b}{rng.choice(('24', '7', '365', '1', '360'))}", parts


def distinctive_part(parts: list[str]) -> str | None:
    """The first part of a label worth hunting on: >= 4 characters and not a generic word."""
    for part in parts:
        if len(part) >= 4 and part not in GENERIC and part.isalpha():
            return part
    return None


def typo(rng: random.Random, label: str, kind: str | None = None) -> tuple[str, str]:
    """One dnstwist-style typo of `label`: (new label, kind). The result always differs and is LDH."""
    kinds = ["addition", "omission", "repetition", "transposition", "replacement", "vowel-swap", "hyphenation"]
    for _ in range(50):
        k = kind or rng.choice(kinds)
        out = _typo_once(rng, label, k)
        if out and out != label and _ldh(out) and len(out) >= 3:
            return out, k
        kind = None
    return label + rng.choice(string.ascii_lowercase), "addition"


def _typo_once(rng: random.Random, label: str, kind: str) -> str | None:
    letters = [i for i, ch in enumerate(label) if ch.isalpha()]
    if not letters:
        return None
    i = rng.choice(letters)
    if kind == "addition":
        return label + rng.choice("seaxyz")
    if kind == "omission":
        return label[:i] + label[i + 1:]
    if kind == "repetition":
        return label[:i] + label[i] + label[i:]
    if kind == "transposition":
        if i + 1 < len(label) and label[i + 1].isalpha() and label[i] != label[i + 1]:
            return label[:i] + label[i + 1] + label[i] + label[i + 2:]
        return None
    if kind == "replacement":
        near = KEYBOARD.get(label[i])
        return label[:i] + rng.choice(near) + label[i + 1:] if near else None
    if kind == "vowel-swap":
        vowels = [j for j, ch in enumerate(label) if ch in "aeiou"]
        if not vowels:
            return None
        j = rng.choice(vowels)
        return label[:j] + rng.choice([v for v in "aeiou" if v != label[j]]) + label[j + 1:]
    if kind == "hyphenation":
        if "-" in label or i == 0 or i >= len(label) - 1:
            return None
        return label[:i] + "-" + label[i:]
    return None


def _ldh(label: str) -> bool:
    return (not label.startswith("-") and not label.endswith("-") and "--" not in label
            and all(c.isalnum() or c == "-" for c in label) and label == label.lower())


def outlet_label(rng: random.Random, lang: str) -> str:
    """The label of an invented legitimate outlet: a coined town plus a newspaper word of its language."""
    words = {
        "en": ("herald", "gazette", "chronicle", "courier", "standard", "examiner", "telegraph"),
        "de": ("kurier", "anzeiger", "rundschau", "tagblatt", "zeitung", "bote"),
        "fr": ("lecho", "laveille", "lagazette", "lecourrier", "lajournee"),
        "it": ("gazzetta", "corriere", "lavoce", "ilgiornale", "cronaca"),
        "es": ("heraldo", "eldiario", "lavoz", "cronica", "correo"),
        "pl": ("gazeta", "kurier", "dziennik", "glos", "echo"),
    }[lang]
    town = coin(rng, rng.choice((2, 3)))[:9]
    word = rng.choice(words)
    if lang in ("fr", "it", "es") or rng.random() < 0.3:
        return f"{word}-{town}" if rng.random() < 0.5 else f"{word}{town}"
    return f"{town}{word}" if rng.random() < 0.6 else f"{town}-{word}"


OUTLET_TLDS = {"en": ("com", "com", "org", "us", "ie", "net"), "de": ("de", "de", "at", "ch", "com"),
               "fr": ("fr", "fr", "be", "ch", "com"), "it": ("it", "it", "com"), "es": ("es", "es", "com"),
               "pl": ("pl", "pl", "com")}

REGISTRARS = (
    ("Hostzona Registrar LLC", "4411"), ("Amber Names OU", "4712"), ("Namecrate Ltd", "3802"),
    ("Dominio Sur S.L.", "3391"), ("Kelpie Domains Pty", "3917"), ("Nordnames AB", "4120"),
    ("Vesta Registry Services", "4555"), ("Brightlane Domains Inc.", "3661"), ("Rhein-Domains GmbH", "4203"),
    ("Cobalt Registrar SARL", "3770"), ("Polarnet Names Sp. z o.o.", "4388"), ("Islandia Names ehf", "4630"),
)
BIG_REGISTRARS = (("MegaDomains, Inc.", "1991"), ("WebRegister Global LLC", "1540"),
                  ("Europa Domains SE", "1610"))
OLD_REGISTRARS = (("Network Registry Corp.", "2"), ("Hanse Domain Services GmbH", "99"),
                  ("Atlantic Names Ltd", "118"))
PARKING_NS = (("ns1.sedoparking.com", "ns2.sedoparking.com"), ("ns1.parkingcrew.net", "ns2.parkingcrew.net"),
              ("ns1.bodis-park.net", "ns2.bodis-park.net"))
FIRST_OCTETS = (31, 37, 45, 46, 62, 77, 79, 80, 82, 85, 87, 89, 91, 93, 94, 95, 109, 141, 146, 151, 176,
                178, 185, 188, 193, 194, 195, 203, 212, 213, 217)


def registrar_ns(registrar: str) -> list[str]:
    """A registrar's default name servers (ns1/ns2.<registrar-ish>.com)."""
    slug = "".join(ch for ch in registrar.lower().split(",")[0].split(" ")[0] if ch.isalnum()) or "registrar"
    return [f"ns1.{slug}-dns.com", f"ns2.{slug}-dns.com"]


def subnet(rng: random.Random, used: set[str]) -> str:
    """A fresh public-looking /24 prefix 'a.b.c' (never loopback, RFC 1918 or one already used)."""
    while True:
        prefix = f"{rng.choice(FIRST_OCTETS)}.{rng.randint(1, 254)}.{rng.randint(0, 254)}"
        if prefix not in used:
            used.add(prefix)
            return prefix


def ga4(rng: random.Random) -> str:
    return "G-" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(10))


def metrica(rng: random.Random) -> str:
    return str(rng.randint(10_000_000, 99_999_999))


def handle(rng: random.Random, label: str) -> str:
    base = label.replace("-", "_")
    return rng.choice((base, f"{base}_news", f"{base}{rng.randint(1, 99)}", f"the_{base}"))[:30]


def author_slug(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(8))


def rng_registrar(rng: random.Random) -> tuple[str, str]:
    """Any registrar (small or big) for hosts of unrelated sites."""
    return rng.choice(REGISTRARS + BIG_REGISTRARS)


def campaign_name(rng: random.Random) -> str:
    return coin(rng, 3)
