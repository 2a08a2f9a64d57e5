"""The live view on a real terminal: tmux runs `scanctl scan host ... --wait` in a pane, and
the pane, captured while the scan runs, shows the progress bar advancing, then the table."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli_service import SCANCTL, Service

WIDTH, HEIGHT = 160, 40


class Tmux:
    """A tmux server of its own (own socket), so no other tmux is touched."""

    def __init__(self) -> None:
        tmux = shutil.which("tmux")
        assert tmux, "tmux is missing: `make test` installs it"
        self.command = [tmux, "-L", f"scanctl-{uuid.uuid4().hex[:8]}"]

    def __call__(self, *args: str) -> str:
        done = subprocess.run([*self.command, *args], capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def pane(self) -> str:
        return self("capture-pane", "-p", "-t", "live")

    def kill(self) -> None:
        subprocess.run([*self.command, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    yield server
    server.kill()


def test_live_progress_bar_advances_then_the_final_table(
    service: Service, tmux: Tmux, tmp_path: Path
) -> None:
    env = service.env()
    script = tmp_path / "watch.sh"
    exports = "".join(
        f"export {name}={shlex.quote(env[name])}\n"
        for name in ("SCAN_API_URL", "SCAN_API_KEY", "PATH", "HOME")
        if name in env
    )
    script.write_text(
        "#!/bin/sh\n"
        + exports
        + f"{SCANCTL} scan host 127.0.0.1:{service.slow.port} --wait --interval 0.3\n"
        + 'echo "exit=$?"\nsleep 60\n'
    )
    script.chmod(0o700)
    tmux("new-session", "-d", "-s", "live", "-x", str(WIDTH), "-y", str(HEIGHT), str(script))

    target = service.slow.target_id
    percents: list[int] = []
    deadline = time.monotonic() + 60
    pane = ""
    while "exit=" not in pane:
        assert time.monotonic() < deadline, pane
        pane = tmux.pane()
        for line in pane.splitlines():
            match = re.search(rf"host {re.escape(target)} .*?(\d+)%", line)
            if match and "TARGET" not in line:
                percents.append(int(match.group(1)))
                break
        time.sleep(0.1)

    # The bar was drawn while the scan ran, and it moved forward through several values.
    moving = sorted(set(p for p in percents if 0 < p < 100))
    assert len(moving) >= 2, percents
    assert percents == sorted(percents), percents  # never backwards
    assert percents[-1] == 100
    assert any(ch in pane for ch in "━")  # rich's bar, not plain lines

    # Then the final table: its header and the scan's row; the process ended with 0.
    lines = pane.splitlines()
    header = next(i for i, line in enumerate(lines) if "TARGET" in line and "FINDINGS" in line)
    row = next(line for line in lines[header:] if target in line)
    assert "completed" in row and "none" in row
    assert "exit=0" in pane
