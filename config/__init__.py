"""Shipped data, installed as the package ``hydrawatch.resources``; read it with importlib.resources."""
