"""``hub demo`` as a newcomer runs it: a subprocess on free ports, its printed addresses and
credentials parsed from its output, and Debian's chromium (Playwright) to click through."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser import launched_chromium

PORTS = 6  # the hub, the partner network, two communities, the demo services, the federated network


def _free_block(count: int) -> int:
    """A first port such that ``count`` consecutive ports are free (the demo derives its
    ports from --port and --network-port). Below the kernel's ephemeral range, where
    outgoing connections of parallel tests take ports at random."""
    low = 20000
    try:
        low = min(low, int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]) - count)
    except (OSError, ValueError, IndexError):
        pass
    for _ in range(100):
        first = random.randrange(10000, max(10001, low))
        held: list[socket.socket] = []
        try:
            for p in range(first, first + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return first
    raise RuntimeError("no block of free ports")


@dataclass
class Demo:
    output: str
    stderr_path: Path
    process: subprocess.Popen[str]
    instance: Path
    port: int  # the hub's; the others follow it

    def value(self, label: str, nth: int = 0) -> str:
        found = re.findall(rf"^\s*{re.escape(label)}:\s+(\S+)", self.output, re.M)
        assert len(found) > nth, f"{label!r} not in the demo's output:\n{self.output}"
        return found[nth]

    def url(self, label: str) -> str:
        return self.value(label).rstrip("/")

    def query(self, sql: str, *args: str) -> list[tuple[Any, ...]]:
        """Read the demo hub's own database (SQLite in its instance folder)."""
        with closing(sqlite3.connect(self.instance / "hub.db")) as db:
            return db.execute(sql, args).fetchall()

    def stderr(self) -> str:
        """What the demo wrote on its console's stderr, without werkzeug's colours."""
        return re.sub(r"\x1b\[[0-9;]*m", "", self.stderr_path.read_text())


def start_demo(folder: Path, instance: Path, first: int | None = None) -> Demo:
    """``hub demo`` on a free block of ports, its output read up to "Press Ctrl+C"; again
    on other ports if one was taken between the check and the demo's start (unless
    ``first``, the hub's port, is given: a restart on the same addresses)."""
    for _ in range(1 if first else 3):
        started = _start_demo(folder, instance, first or _free_block(PORTS))
        if isinstance(started, Demo):
            return started
        if "is in use by another program" not in started:
            break
    pytest.fail(f"hub demo did not start:\n{started}")


def _start_demo(folder: Path, instance: Path, first: int) -> Demo | str:
    hub = Path(sys.executable).with_name("hub")
    command = [str(hub)] if hub.exists() else [sys.executable, "-m", "hub.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURBSIDE_")}
    err = folder / f"stderr-{first}.txt"
    with err.open("w") as errors:
        process = subprocess.Popen(
            [*command, "demo", "--port", str(first), "--network-port", str(first + 1),
             "--instance", str(instance)],
            stdout=subprocess.PIPE, stderr=errors, text=True, cwd=folder, env=env,
            start_new_session=True)
    lines: list[str] = []
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Press Ctrl+C"):
            break
    output = "".join(lines)
    if not output.rstrip().endswith("Press Ctrl+C to stop."):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
        return f"{output}\n{err.read_text()}"
    return Demo(output, err, process, instance, first)


def stop_demo(demo: Demo) -> None:
    """Ctrl+C, as the newcomer stops it."""
    os.killpg(demo.process.pid, signal.SIGINT)
    try:
        demo.process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(demo.process.pid, signal.SIGKILL)
        demo.process.wait(5)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("demo")
    running = start_demo(folder, folder / "instance")
    yield running
    stop_demo(running)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    yield from launched_chromium()


def sign_in_at_hub(page: Any, demo: Demo) -> None:
    page.get_by_label("Email address").fill(demo.value("Demo doctor"))
    page.get_by_label("Password").fill(demo.value("Password"))
    page.get_by_role("button", name="Sign in", exact=True).click()


def _link(page: Any, hub: str, display: str) -> None:
    page.goto(hub + "/account/links")
    page.get_by_role("button", name=f"Link {display}").click()
    page.get_by_role("button", name="Continue as Dr. Ada Lovelace").click()
    page.wait_for_url(hub + "/account/links")


@pytest.fixture(scope="session")
def linked(demo: Demo, chromium: Any) -> Iterator[Any]:
    """The demo doctor signed in at the hub with both communities linked (the relay then
    polls them); yields that browser page."""
    hub = demo.url("Hub (OpenID Provider)")
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(hub + "/account")
    sign_in_at_hub(page, demo)
    _link(page, hub, "Artsennet")
    _link(page, hub, "Casus")
    yield page
    context.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
