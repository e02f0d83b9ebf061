"""Fetch the web pages' npm assets listed in web/assets.toml (`make web-assets`).

For each package: `npm pack <name>@<version>` downloads its published tarball from the npm
registry; its SHA-512 must equal the integrity pinned in assets.toml (a changed or substituted
tarball stops the set-up); the files listed are unpacked to web/node_modules/<name>/, where npm
would put them. A package already unpacked at that version and integrity is left alone, so a
second run does nothing. Standard library only: it runs before the virtualenv exists.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

WEB = Path(__file__).resolve().parent
ASSETS = WEB / "node_modules"
STAMP = ".integrity"


def integrity_of(tarball: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()


def fetch(package: dict, into: Path) -> None:
    name, version, pinned = package["name"], package["version"], package["integrity"]
    target = into / name
    stamp = target / STAMP
    if stamp.is_file() and stamp.read_text().strip() == f"{version} {pinned}":
        return
    with tempfile.TemporaryDirectory() as scratch:
        # The package's name and version come from assets.toml, in the repository; npm is the
        # one on PATH, as for every other step of the set-up.
        command = ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", scratch]
        packed = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
        tarball = Path(scratch) / json.loads(packed.stdout)[0]["filename"]
        found = integrity_of(tarball)
        if found != pinned:
            sys.exit(f"{name}@{version}: integrity {found} is not the pinned {pinned}")
        staging = Path(scratch) / "unpacked"
        with tarfile.open(tarball) as archive:
            for file in package["files"]:
                member = archive.getmember(f"package/{file}")
                archive.extract(member, staging, filter="data")
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging / "package", target)
    stamp.write_text(f"{version} {pinned}\n")
    print(f"web assets: {name}@{version}")


def main() -> None:
    listed = tomllib.loads((WEB / "assets.toml").read_text())
    for package in listed["package"]:
        fetch(package, ASSETS)


if __name__ == "__main__":
    main()
