"""The README's commands work as written in a fresh shell (issue 13, item 6): after scripts/up
or scripts/test installed uv into ~/.local/bin, a new terminal's PATH does not have it, so
every command the READMEs give is a script that finds uv itself, run here with a fresh
login's PATH (no ~/.local/bin, no virtualenv)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRESH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)
BENCH = re.compile(r"\bscripts/bench ([a-z_]+)")


def commands(markdown: Path) -> list[str]:
    """The command lines of the file's ```sh blocks (comments and continuations dropped)."""
    lines: list[str] = []
    for block in SHELL_BLOCK.findall(markdown.read_text()):
        for line in block.splitlines():
            if line.strip() and not line.startswith((" ", "#")):
                lines.append(line.split("  #")[0].strip())
    return lines


def fresh_shell(command: str) -> subprocess.CompletedProcess[str]:
    """``command`` in bash as a new terminal would run it: a fresh login's PATH, HOME."""
    home = str(Path.home())
    return subprocess.run(  # noqa: S603 - the READMEs' own commands, run as a user would
        ["/bin/bash", "-c", command],
        cwd=ROOT,
        env={"HOME": home, "PATH": FRESH_PATH, "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module", autouse=True)
def uv_where_the_scripts_put_it() -> None:
    # The scripts would install uv if it were nowhere (pip): not in a test.
    if not (shutil.which("uv", path=FRESH_PATH) or (Path.home() / ".local/bin/uv").exists()):
        pytest.skip("uv is neither on a fresh PATH nor in ~/.local/bin")


def test_the_readmes_commands_are_scripts_not_bare_uv() -> None:
    readme = commands(ROOT / "README.md")
    assert "scripts/up" in readme and "scripts/test" in readme, readme
    for path in (ROOT / "README.md", ROOT / "bench" / "README.md"):
        for line in commands(path):
            assert line.startswith(("scripts/", "docker ")), f"{path.name}: {line!r}"
    assert "uv: command not found" not in fresh_shell("scripts/bench").stderr


def test_the_documented_benchmarks_run_from_a_fresh_shell() -> None:
    names: list[str] = []
    for path in (ROOT / "README.md", ROOT / "bench" / "README.md"):
        names += [n for n in BENCH.findall(path.read_text()) if n not in names]
    assert {"tickets_flow", "attachments", "fault_campaign"} <= set(names), names
    # Each names a benchmark; the first as documented, by its --help (a benchmark itself
    # starts a whole system for minutes): the same script runs every one.
    for name in names:
        assert (ROOT / "bench" / f"{name}.py").exists(), name
    done = fresh_shell(f"scripts/bench {names[0]} --help")
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    assert "usage:" in done.stdout, done.stdout
    # The way to run uv by hand, too, is said when it is not on the caller's PATH.
    if not shutil.which("uv", path=FRESH_PATH):
        assert 'export PATH="' in done.stderr and ".local/bin" in done.stderr, done.stderr

    listing = fresh_shell("scripts/bench")
    assert listing.returncode == 2
    assert set(listing.stderr.split()) >= set(names), listing.stderr
    unknown = fresh_shell("scripts/bench no_such_bench")
    assert unknown.returncode == 2 and "no benchmark named 'no_such_bench'" in unknown.stderr


def test_the_admin_password_reset_runs_from_a_fresh_shell() -> None:
    done = fresh_shell("scripts/reset-admin-password --help")
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    assert "--reset-admin-password" in done.stdout
