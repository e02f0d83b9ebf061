"""Simulator of the municipality's fines register (σύστημα διαχείρισης προστίμων), SPEC F-4.

Run: `FINES_REGISTER_DB=/tmp/fines-register.sqlite3 uvicorn portal_simulators.fines_register:app`.
"""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI(title="Fines register simulator", description=__doc__, version="0.1.0")

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, str]:
        """Always 200 (the process is alive)."""
        return {"status": "ok", "mode": "up"}

    return app


def __getattr__(name: str) -> FastAPI:
    # `app` for uvicorn, built on first access so that importing the module creates no file.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
