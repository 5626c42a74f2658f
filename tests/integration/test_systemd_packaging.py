"""Issue 12 point 5: the shipped units verify with systemd-analyze, the sudoers file with
visudo, and the polkit rule names exactly the two reload units (nothing broader)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
UNITS = (
    "opsconsole.service",
    "opsconsole-reload-postfix.service",
    "opsconsole-reload-pmta.service",
)


def _stand_in(tmp: Path, name: str) -> str:
    """An executable for an ExecStart binary this machine lacks (verify checks it exists)."""
    path = tmp / name
    path.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_units_verify(tmp_path: Path) -> None:
    opsconsole = Path(sys.executable).with_name("opsconsole")
    binaries = {"/usr/local/bin/opsconsole": str(opsconsole)}
    for real in ("/usr/sbin/postfix", "/usr/sbin/pmta"):
        binaries[real] = real if Path(real).exists() else _stand_in(tmp_path, Path(real).name)
    for unit in UNITS:
        text = (PACKAGING / unit).read_text(encoding="utf-8")
        for real, here in binaries.items():
            text = text.replace(f"={real} ", f"={here} ")
        (tmp_path / unit).write_text(text, encoding="utf-8")
    res = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / u) for u in UNITS)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # Other units of this machine may draw warnings; ours must draw none.
    ours = [line for line in res.stderr.splitlines() if "opsconsole" in line]
    assert res.returncode == 0 and ours == [], res.stderr


def test_unit_grants_exactly_what_the_adapters_need() -> None:
    unit = (PACKAGING / "opsconsole.service").read_text(encoding="utf-8")
    settings = dict(
        (k, v)
        for k, _, v in (line.partition("=") for line in unit.splitlines())
        if k and not k.startswith("#")
    )
    assert settings["User"] == "opsconsole"
    assert settings["NoNewPrivileges"] == "yes"  # reloads go through polkit, not setuid sudo
    writable = re.findall(r"^ReadWritePaths=(.+)$", unit, re.M)
    assert writable == [
        "/var/lib/opsconsole", "-/etc/postfix", "-/etc/pmta/opsconsole",
        "-/opt/kumomta/etc/policy/opsconsole",
    ]  # fmt: skip
    for unit_name in UNITS[1:]:
        reload_unit = (PACKAGING / unit_name).read_text(encoding="utf-8")
        [exec_start] = re.findall(r"^ExecStart=(.+)$", reload_unit, re.M)
        assert exec_start.endswith(" reload") and "Type=oneshot" in reload_unit


def test_polkit_rule_allows_only_starting_the_reload_units() -> None:
    rule = (PACKAGING / "polkit" / "50-opsconsole-reload.rules").read_text(encoding="utf-8")
    units = re.findall(r'action\.lookup\("unit"\) == "([^"]+)"', rule)
    assert units == ["opsconsole-reload-postfix.service", "opsconsole-reload-pmta.service"]
    assert 'action.lookup("verb") == "start"' in rule
    assert 'subject.user == "opsconsole"' in rule


@pytest.mark.skipif(shutil.which("visudo") is None, reason="no visudo here (apt-get install sudo)")
def test_sudoers_file_parses_and_allows_only_the_reloads() -> None:
    path = PACKAGING / "sudoers.d" / "opsconsole"
    res = subprocess.run(["visudo", "-cf", str(path)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    [alias] = re.findall(r"^Cmnd_Alias OPSCONSOLE_RELOAD = (.+)$", path.read_text(), re.M)
    assert alias == "/usr/sbin/postfix reload, /usr/sbin/pmta reload"
