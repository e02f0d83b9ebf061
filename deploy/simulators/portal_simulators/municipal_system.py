"""Simulator of the municipal information system (ΟΠΣ of the municipality's finances): payment
warrants, assessed tax debts and accepted municipal-tax declarations (SPEC B-1..B-3).

Being written (issue 9): for now only its outage switch and health.
"""

from __future__ import annotations

from fastapi import FastAPI

from portal_simulators.outage import Control, add_control


def create_app() -> FastAPI:
    app = FastAPI(title="Municipal information system simulator", version="0.1.0")
    add_control(app, Control)
    return app


app = create_app()
