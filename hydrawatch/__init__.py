"""hydrawatch: track disinformation websites through takedowns and record which site replaced which."""

__version__ = "0.1.0"
