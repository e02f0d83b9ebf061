"""A FastAPI app that does nothing with a submission: the floor under `make bench`'s figures.

`POST /noop/echo` parses a body of the same shape and limits as a named submission
(`POST /requests`) and answers 201 `{}`, with no authentication, storage or messaging. Posted
through the same gateway by the same client, its rate is what HTTP, nginx, uvicorn and pydantic
cost on their own, so the benchmark can print submissions/s as a ratio to it. `GET /noop/health`
answers 200.

Run: `uvicorn portal_simulators.noop:app` (the local stack runs it behind the gateway at `/noop`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, StringConstraints


def _text(max_length: int) -> Any:
    # As the requests service: stripped first, so whitespace only counts as missing.
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)
    ]


Subject, Text, DesiredAction, Category = _text(200), _text(5000), _text(2000), _text(64)


class Submission(BaseModel):
    """The shape of a named submission (requests service, SPEC R-2)."""

    kind: Literal["request", "complaint", "proposal"]
    subject: Subject
    text: Text
    desired_action: DesiredAction | None = None
    category: Category | None = None


app = FastAPI(title="No-op", description=__doc__, version="0.1.0", docs_url=None, redoc_url=None)


@app.post("/noop/echo", status_code=201)
def echo(body: Submission) -> dict[str, str]:
    """Parse the body, do nothing, answer 201 `{}`."""
    return {}


@app.get("/noop/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
