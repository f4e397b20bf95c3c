"""`hydrawatch serve [--host H --port P]`: the read-only HTTP API and the web page."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from hydrawatch.context import CliError, state


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        ctx: typer.Context,
        host: Annotated[str | None, typer.Option(help="bind address (default: [serve] host, 127.0.0.1)")] = None,
        port: Annotated[int | None, typer.Option(help="port (default: [serve] port, 8750; 0 = any free)")] = None,
    ) -> None:
        """Serve the HTTP API (OpenAPI at /api/openapi.json) and the web page at / until interrupted."""
        from hydrawatch.web.security import MAKE_ONE, token_weakness
        from hydrawatch.web.server import LOOPBACK, build, serve_forever
        from hydrawatch.wiring import open_store

        cfg = state(ctx).config
        bind = host or cfg.serve.host
        if bind not in LOOPBACK and not cfg.serve.token:
            raise CliError(f"refusing to serve on {bind} without an access token: set serve.token to at least "
                           f"32 random characters (make one: {MAKE_ONE})", 2)
        if bind not in LOOPBACK and (weakness := token_weakness(cfg.serve.token)):
            raise CliError(f"refusing to serve on {bind}: serve.token {weakness} (make one: {MAKE_ONE})", 2)
        if port is not None and not 0 <= port <= 65535:
            raise CliError(f"--port must be within 0..65535, not {port}", 2)
        chosen = cfg.serve.port if port is None else port
        console = Console(stderr=True, highlight=False)

        def announce(url: str) -> None:
            note = "token required" if cfg.serve.token else "no token"
            console.print(f"hydrawatch serve: {url} ({note}); Ctrl-C stops", markup=False)

        with open_store(cfg) as store:
            web = build(store.sessions, host=bind, token=cfg.serve.token)
            try:
                serve_forever(web, bind, chosen, announce)
            except OSError as exc:
                raise CliError(f"cannot listen on {bind}:{chosen}: {exc.strerror or exc}") from None
