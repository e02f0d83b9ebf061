"""JSON Schema snapshots of the public contracts, committed under libs/events/schemas/.

`python -m portal_events.schemas` rewrites them after an intended (additive) change; the test
`test_contract_schemas_match_snapshots` fails when a contract changes by accident.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from portal_events.contracts import Contract, all_contracts

SNAPSHOT_DIR = Path(__file__).resolve().parent.parent / "schemas"


def snapshot_path(contract: type[Contract]) -> Path:
    return SNAPSHOT_DIR / f"{contract.TYPE}.v{contract.VERSION}.json"


def render(contract: type[Contract]) -> str:
    schema = contract.model_json_schema()
    schema["x-event-type"] = contract.TYPE
    schema["x-event-version"] = contract.VERSION
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all() -> list[Path]:
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    written = []
    for contract in all_contracts():
        path = snapshot_path(contract)
        path.write_text(render(contract), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        sys.stdout.write(f"{path}\n")
