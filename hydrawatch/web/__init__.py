"""`hydrawatch serve`: a read-only HTTP API (FastAPI) and a web page with the lineage graph."""
