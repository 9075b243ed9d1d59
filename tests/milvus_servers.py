"""Milvus servers for the tests, started and stopped by them: Milvus Lite served over TCP, and the Milvus 2.3.5
standalone server (PyPI ``milvus``), both reachable on 127.0.0.1 only.

The 2.3.5 server binds its ports on every interface, so it runs in a network namespace of its own whose only
interface is loopback (``ip netns``, which needs root, as in CI). The test process stays outside: it listens on an
ephemeral 127.0.0.1 port and hands that socket to a small forwarder that runs inside the namespace, which connects
each accepted connection to the server there. One server of each kind serves the whole test session (the 2.3.5
server takes ~10 s to start); each test uses collections of its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.stores.milvus_server import KEEPALIVE  # pymilvus shares one connection per server: the same options

START_SECONDS = 180  # bounded wait for a server to answer
BIN = Path(sys.executable).parent

# Runs inside the namespace: accepts on the inherited listening sockets (which stay in the test's namespace) and
# joins each connection to the same port number's server inside the namespace.
_FORWARDER = """
import socket, sys, threading

def pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def serve(listener, port):
    while True:
        client, _ = listener.accept()
        try:
            server = socket.create_connection(("127.0.0.1", port), timeout=10)
            server.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, server), (server, client)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()

for spec in sys.argv[1:]:
    fd, port = map(int, spec.split(":"))
    threading.Thread(target=serve, args=(socket.socket(fileno=fd), port), daemon=True).start()
threading.Event().wait()
"""


ROOT_TOKEN = "root:Milvus"  # the 2.3.5 server runs with authentication on, as its default root user


@dataclass(frozen=True)
class MilvusTarget:
    """Where a test's Milvus store lives: ``uri`` None is Milvus Lite in the index folder."""

    name: str
    uri: str | None = None
    version: str = ""
    token: str | None = field(default=None, repr=False)
    pid: int = 0  # the server's process (its memory is that and its children's)

    def collection(self) -> str:
        """A collection name no other test of the session uses (the Lite file is per index folder anyway)."""
        return "policy_rag" if self.uri is None else f"t_{uuid.uuid4().hex[:12]}"


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_version(uri: str, process: subprocess.Popen[bytes], log: Path, token: str = "") -> str:
    """The server's version, once it answers (bounded); the server's log if it dies or never answers."""
    from pymilvus import MilvusClient

    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Milvus server exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            client = MilvusClient(uri=uri, token=token, timeout=3, grpc_options=KEEPALIVE)
            client.list_collections()  # the proxy answers a version before the coordinators are up
            version = str(client.get_server_version())
            client.close()
            return version
        except Exception:
            time.sleep(1)
    raise RuntimeError(f"the Milvus server at {uri} did not answer in {START_SECONDS} s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _quiet_client_logs() -> None:
    import logging

    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # connection retries while a server starts


def lite_server(data: Path) -> Iterator[MilvusTarget]:
    """Milvus Lite's gRPC server on an ephemeral 127.0.0.1 port, its data in ``data``."""
    _quiet_client_logs()
    port, log = _free_port(), data.parent / "milvus-lite-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(BIN / "milvus-lite"), "server", "--data-dir", str(data), "--host",
                                    "127.0.0.1", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        uri = f"http://127.0.0.1:{port}"
        yield MilvusTarget("lite-server", uri, _wait_for_version(uri, process, log), pid=process.pid)
    finally:
        _stop(process)


def standalone_server(data: Path) -> Iterator[MilvusTarget]:
    """The Milvus 2.3.5 standalone server (``milvus-server``) in a loopback-only network namespace."""
    _quiet_client_logs()
    ip = shutil.which("ip")
    if ip is None:
        raise RuntimeError("the Milvus server tests need iproute2's `ip` (apt-get install iproute2) and root")
    namespace = f"policy-rag-milvus-{os.getpid()}"
    subprocess.run([ip, "netns", "add", namespace], check=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([ip, "netns", "exec", namespace, ip, "link", "set", "lo", "up"], check=True)
        log = data.parent / "milvus-server.log"
        with log.open("wb") as out:
            processes.append(subprocess.Popen([ip, "netns", "exec", namespace, str(BIN / "milvus-server"), "--data",
                                               str(data), "--authorization-enabled", "true"], stdout=out,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        grpc = _listener()
        port = int(grpc.getsockname()[1])
        processes.append(subprocess.Popen([ip, "netns", "exec", namespace, sys.executable, "-c", _FORWARDER,
                                           f"{grpc.fileno()}:19530"], pass_fds=(grpc.fileno(),),
                                          start_new_session=True))
        grpc.close()  # the forwarder holds it
        uri = f"http://127.0.0.1:{port}"
        yield MilvusTarget("server-2.3.5", uri, _wait_for_version(uri, processes[0], log, ROOT_TOKEN), ROOT_TOKEN,
                           processes[0].pid)
    finally:
        for process in reversed(processes):
            _stop(process)
        subprocess.run([ip, "netns", "delete", namespace], check=False)


def server_client(target: MilvusTarget) -> Any:
    """A plain ``MilvusClient`` of a served target (for tests that look at raw rows)."""
    from pymilvus import MilvusClient

    return MilvusClient(uri=target.uri, token=target.token or "", timeout=30, grpc_options=KEEPALIVE)
