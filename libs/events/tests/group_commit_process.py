"""A process saving through the group-commit writer from 8 threads until it is killed; it
prints each ledger's id once its save has returned (acknowledged). For the crash test in
test_group_commit.py; the database is the environment's (POSTGRES_*)."""

from __future__ import annotations

import sys
import threading

from test_group_commit import Ledger, Ledgers

app = Ledgers()
printing = threading.Lock()


def write() -> None:
    while True:
        ledger = Ledger("crash")
        ledger.enter()
        app.save(ledger)
        with printing:
            print(ledger.id, flush=True)


threads = [threading.Thread(target=write, daemon=True) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
sys.exit(1)
