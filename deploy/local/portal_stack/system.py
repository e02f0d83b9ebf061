"""The machine's own packages the stack needs: installed from Debian only when missing."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from .procs import StackError, run


def postgres_bin() -> str | None:
    """The newest installed PostgreSQL server's bin dir."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    return os.path.dirname(found[-1]) if found else None


# The font of the certificates' PDFs, with Greek glyphs (certificates' CERTIFICATES_FONT_DIR).
DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

# (is it there?, Debian package providing it)
REQUIREMENTS = (
    (lambda: postgres_bin() is not None, "postgresql"),
    (lambda: shutil.which("nginx") is not None, "nginx-light"),
    (lambda: shutil.which("java") is not None, "default-jre-headless"),
    (lambda: shutil.which("mvn") is not None, "maven"),
    (DEJAVU_SANS.is_file, "fonts-dejavu-core"),
    # The browser the web pages' tests drive, headless (issue 11); the pages need none.
    (lambda: shutil.which("chromium") is not None, "chromium"),
)


def ensure_packages(say) -> None:
    missing = [package for present, package in REQUIREMENTS if not present()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise StackError(f"missing system packages, install them as root: {' '.join(missing)}")
    say(f"installing system packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=env)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
