"""One shape for every list a service answers, and one way to ask for a page of it.

`GET` list endpoints take `limit` and `offset` through `PagingParams` and answer a
`ListPage[Item]`: `{items, total, limit, offset}`, so the gateway team pages every list alike
and knows how many there are without fetching them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

Item = TypeVar("Item")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_OFFSET = 100_000  # deeper than anyone pages by hand; bounds the cost of OFFSET


@dataclass(frozen=True)
class Paging:
    """Which window of a list to answer: `limit` items after skipping `offset`."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0


def paging(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"How many items at most (1-{MAX_LIMIT})")
    ] = DEFAULT_LIMIT,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip (paging)")
    ] = 0,
) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingParams = Annotated[Paging, Depends(paging)]


class ListPage(BaseModel, Generic[Item]):
    """A page of a list. A service names each of its lists by subclassing it, e.g.
    `class RequestSummaryPage(ListPage[RequestSummary])`, which is also the name the OpenAPI
    document shows."""

    items: list[Item] = Field(description="The items on this page, in the list's order")
    total: int = Field(description="How many items the whole list has", examples=[42])
    limit: int = Field(description="The page size asked for", examples=[DEFAULT_LIMIT])
    offset: int = Field(description="How many items were skipped", examples=[0])

    @classmethod
    def of(cls, items: list[Item], total: int, paging: Paging) -> ListPage[Item]:
        return cls(items=items, total=total, limit=paging.limit, offset=paging.offset)
