"""python -m portal_stack.generate [--check]: rewrite the files derived from deploy/services.toml
(docker-compose.yml, the routes of deploy/nginx/portal.conf.template); with --check, only list
the stale ones and exit 1 if there are any."""

from __future__ import annotations

import argparse
import sys

from .derived import stale_files, write
from .services import REPO, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal_stack.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only list stale files; exit 1 if any")
    args = parser.parse_args(argv)
    listed = load()
    stale = stale_files(listed) if args.check else write(listed)
    for path in stale:
        print(f"{'stale' if args.check else 'rewrote'}: {path.relative_to(REPO)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
