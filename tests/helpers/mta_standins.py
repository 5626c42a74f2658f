"""Stand-ins for MTA commands and a temporary Postfix config directory, for tests/…/test_mta_*.

* :func:`recorder` writes an executable Python script that appends its argv (JSON, one line)
  to a log and exits with a chosen code; ``pmta`` stand-ins also print canned
  ``show disabled sources`` output. Tests put the script's folder first on PATH through the
  ``Runner``'s ``env``, so nothing on the machine is touched.
* :func:`postfix_dir` gives a real Postfix config directory (main.cf + master.cf copied
  from the installed Postfix) for ``postconf -c DIR``; it installs Postfix the way
  tests/e2e does when missing, and skips with the reason when that cannot be done.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

SCRIPT = """#!{python}
import json, os, sys
with open({log!r}, "a", encoding="utf-8") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
argv = sys.argv[1:]
if argv[:3] == ["show", "disabled", "sources"] and os.path.exists({show!r}):
    sys.stdout.write(open({show!r}, encoding="utf-8").read())
fail = {fail!r}
if fail and " ".join(argv).startswith(fail):
    print("error: stand-in told to fail on", fail)
    sys.exit(3)
"""


class Recorder:
    """An executable stand-in at ``path``; ``calls()`` are the argvs it was run with."""

    def __init__(self, folder: Path, name: str, fail_on: str = "") -> None:
        self.folder = folder
        self.path = folder / name
        self.log = folder / f"{name}.log"
        self.show = folder / f"{name}.show"
        self.fail_on = fail_on
        self._write()

    def _write(self) -> None:
        self.path.write_text(
            SCRIPT.format(
                python=sys.executable, log=str(self.log), show=str(self.show), fail=self.fail_on
            )
        )
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def fail(self, prefix: str) -> None:
        """Exit 3 from now on when the joined argv starts with ``prefix`` ("" = never)."""
        self.fail_on = prefix
        self._write()

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def env(self) -> dict[str, str]:
        """The environment with this stand-in's folder first on PATH."""
        return {**os.environ, "PATH": f"{self.folder}{os.pathsep}{os.environ.get('PATH', '')}"}


def recorder(folder: Path, name: str, fail_on: str = "") -> Recorder:
    folder.mkdir(parents=True, exist_ok=True)
    return Recorder(folder, name, fail_on)


def _ensure_postconf() -> str:
    found = shutil.which("postconf") or (
        "/usr/sbin/postconf" if Path("/usr/sbin/postconf").exists() else None
    )
    if found:
        return found
    from tests.e2e.postfix_testbed import TestbedUnavailable, ensure_postfix_installed

    try:
        ensure_postfix_installed()
    except TestbedUnavailable as exc:
        pytest.skip(f"postconf not available: {exc}")
    found = shutil.which("postconf") or "/usr/sbin/postconf"
    if not Path(found).exists():
        pytest.skip("postconf not available after installing postfix")
    return found


def postfix_dir(tmp: Path) -> tuple[str, Path]:
    """(path of postconf, a config dir holding Postfix's distributed main.cf/master.cf).

    The distributed files first: /etc/postfix is whatever the machine (or a Postfix test
    bed running in the same session) made of it, and must not leak into these tests."""
    postconf = _ensure_postconf()
    conf = tmp / "postfix-conf"
    conf.mkdir()
    for name in ("main.cf", "master.cf"):
        for src in (Path("/usr/share/postfix") / f"{name}.dist", Path("/etc/postfix") / name):
            if src.exists():
                shutil.copyfile(src, conf / name)
                break
        else:
            pytest.skip(f"no Postfix {name} to copy")
    return postconf, conf
