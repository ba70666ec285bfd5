"""The app run directly under uvicorn on 0.0.0.0 (not through `recordplus serve`, which knows
its bind address) allows anonymous use only on a loopback socket with a loopback Host: a
client reaching the machine's network address is refused, even when it claims to be
`Host: 127.0.0.1`, and nothing it sent is stored."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from django.test import override_settings

from recordplus.core.anonymous import anonymous_allowed
from tests.conftest import RECORDPLUS, ROOT, Process, embedded_env, free_port, require

UVICORN = shutil.which("uvicorn", path=str(Path(sys.executable).parent))


def network_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (read from the interfaces)."""
    import fcntl
    import struct

    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), siocgifaddr, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on this interface
            address = socket.inet_ntoa(packed[20:24])
            if not address.startswith("127."):
                return address
    return None


@pytest.fixture(scope="module")
def uvicorn_on_all_addresses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    address = network_address()
    require(address is not None, "a non-loopback IPv4 address on this machine")
    require(UVICORN is not None, "uvicorn in the virtualenv")
    workdir = tmp_path_factory.mktemp("uvicorn-0.0.0.0")
    env = embedded_env(workdir / "var")
    env.pop("ALLOW_ANONYMOUS")  # the default is what is tested
    subprocess.run([RECORDPLUS, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
    port = free_port()
    server = Process(
        "uvicorn",
        [str(UVICORN), "recordplus.config.asgi:application", "--host", "0.0.0.0", "--port", str(port), "--lifespan", "off"],
        env,
        workdir / "uvicorn.log",
    )
    server.start()
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.proc is not None and server.proc.poll() is None, server.tail()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"uvicorn did not answer /healthz\n{server.tail()}"
            time.sleep(0.2)
        yield port, address  # type: ignore[misc]
    finally:
        server.stop()


def test_it_refuses_anonymous_clients_on_the_network_address(uvicorn_on_all_addresses: tuple[int, str]) -> None:
    port, address = uvicorn_on_all_addresses
    with httpx.Client(base_url=f"http://{address}:{port}", timeout=30) as remote:
        for host in (f"{address}:{port}", f"127.0.0.1:{port}", "localhost"):
            created = remote.post("/api/record/videos/", data={"title": "from the network"}, headers={"Host": host})
            assert created.status_code == 401, (host, created.text)
            assert "API token is required" in created.json()["message"]
            listed = remote.get("/api/record/videos/", headers={"Host": host})
            assert listed.status_code == 401, (host, listed.text)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as local:
        titles = [video["title"] for video in _videos(local.get("/api/record/videos/").json())]
    assert "from the network" not in titles


def test_it_still_serves_anonymous_clients_on_loopback(uvicorn_on_all_addresses: tuple[int, str]) -> None:
    port, _ = uvicorn_on_all_addresses
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as local:
        created = local.post("/api/record/videos/", data={"title": "from this machine"})
        assert created.status_code == 201, created.text
        video = local.get(f"/api/record/videos/{created.json()['video_id']}").json()
    assert video["title"] == "from this machine"


def _videos(listing: object) -> list[dict]:
    """The videos of a list answer, a plain list or a page."""
    if isinstance(listing, dict):
        return listing.get("results") or listing.get("items") or []
    return list(listing)  # type: ignore[arg-type]


# --- the rule itself, in-process ---------------------------------------------------------


def asgi_request(server: tuple[str, int] | None, host: str) -> SimpleNamespace:
    return SimpleNamespace(scope={"type": "http", "server": server}, META={"HTTP_HOST": host})


@override_settings(ANONYMOUS_ON_LOOPBACK_SOCKET=True, ALLOW_ANONYMOUS=True)
def test_it_decides_from_the_socket_and_the_host() -> None:
    assert anonymous_allowed(asgi_request(("127.0.0.1", 8000), "127.0.0.1:8000"))
    assert anonymous_allowed(asgi_request(("::1", 8000), "[::1]:8000"))
    assert anonymous_allowed(asgi_request(("127.0.0.1", 8000), "localhost:8000"))
    assert not anonymous_allowed(asgi_request(("192.0.2.2", 8000), "127.0.0.1:8000"))
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 reaches the loopback socket.
    assert not anonymous_allowed(asgi_request(("127.0.0.1", 8000), "evil.example:8000"))
    # A server that does not say (a unix socket): closed.
    assert not anonymous_allowed(asgi_request(None, "localhost"))
    assert not anonymous_allowed(SimpleNamespace(META={"HTTP_HOST": "localhost"}))


@override_settings(ANONYMOUS_ON_LOOPBACK_SOCKET=False, ALLOW_ANONYMOUS=True)
def test_it_follows_an_explicit_setting() -> None:
    assert anonymous_allowed(asgi_request(("192.0.2.2", 8000), "example.org"))
    with override_settings(ALLOW_ANONYMOUS=False):
        assert not anonymous_allowed(asgi_request(("127.0.0.1", 8000), "127.0.0.1"))
