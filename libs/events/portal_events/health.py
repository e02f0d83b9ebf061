"""What a background component (read model, relay, consumer, worker) tells the health endpoint.

`ok` decides readiness (HTTP 503 when any component is not ok); `detail` carries the figures an
operator looks at (lag, parked events, dead-lettered messages), shown in `GET /<service>/health`.
A problem that needs a person but does not stop the service (a parked event) is reported in
`detail` and in the metrics, not by failing readiness: a load balancer taking the service out of
rotation would turn one bad event into an outage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ComponentHealth:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)
