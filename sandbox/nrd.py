"""Deterministic unrelated names for the newly-registered-domain feed (the noise a real feed carries)."""

from __future__ import annotations

import random

WORDS = (
    "acme", "alpha", "apex", "art", "artichoke", "auto", "bakery", "bay", "best", "bio", "blue", "book",
    "bright", "build", "cafe", "care", "city", "clean", "cloud", "coach", "code", "coffee", "craft", "crypto",
    "daily", "data", "deal", "dental", "design", "digital", "dream", "eco", "edge", "energy", "estate", "event",
    "fast", "fit", "flow", "food", "fresh", "fun", "garden", "gate", "gift", "global", "gold", "green", "group",
    "health", "home", "honey", "hub", "info", "insider", "joy", "key", "kids", "lab", "land", "law", "life",
    "line", "link", "local", "lux", "market", "media", "meta", "mind", "money", "motor", "nest", "net", "news",
    "north", "nova", "one", "online", "pet", "photo", "pixel", "plus", "point", "pride", "prime", "pro",
    "quest", "rapid", "real", "river", "rock", "route", "safe", "shop", "smart", "solar", "spark", "star",
    "state", "store", "studio", "sun", "tech", "today", "top", "travel", "trend", "true", "truth", "union",
    "urban", "vision", "wave", "web", "well", "wild", "wise", "world", "yoga", "zen", "zone",
)
TLDS = ("com", "com", "com", "net", "org", "online", "shop", "xyz", "site", "store", "top", "info", "de", "fr",
        "co", "io", "app", "pro", "cc", "pw", "so", "to", "us", "uk", "eu", "live", "space", "click")


def generated_names(count: int, seed: str, exclude_labels: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """`count` distinct plausible names, the same for the same seed; never one whose first label is in
    `exclude_labels` (so noise never collides with a world's own same-label names)."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        shape = rng.random()
        first, second = rng.choice(WORDS), rng.choice(WORDS)
        if shape < 0.5:
            label = f"{first}{second}"
        elif shape < 0.7:
            label = f"{first}-{second}"
        elif shape < 0.85:
            label = f"{first}{second}{rng.randint(1, 999)}"
        else:
            label = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(6, 12)))
        name = f"{label}.{rng.choice(TLDS)}"
        if label not in exclude_labels:
            out.add(name)
    return sorted(out)
