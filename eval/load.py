"""Load test: concurrent clients asking the dev questions, against the Python API and the running web app.

    python -m eval.load [--index DIR] [--clients 4] [--seconds 20] [--gold FILE ...] [--no-app]

Two targets, each for a bounded time and only on this machine:
  * ``api``: N threads calling ``index.ask`` (search + extractive answer) on one shared index;
  * ``app``: ``app.py`` started on a free loopback port, N ``gradio_client`` clients calling its ``/ask``.
Prints requests, errors (must be 0), throughput and p50/p95 latency per target; exits 1 on any error.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .gold import load_gold
from .systems import open_index

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GOLD = (ROOT / "eval" / "data" / "samples.jsonl",)


@dataclass
class LoadResult:
    """What one target saw."""

    target: str
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies) + len(self.errors)

    def row(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000 if lat else float("nan")
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] * 1000 if lat else float("nan")
        return (f"| {self.target} | {self.clients} | {self.requests} | {len(self.errors)} | "
                f"{self.requests / self.seconds:.1f} | {p50:.1f} | {p95:.1f} |")


def questions(gold: Sequence[Path]) -> list[str]:
    """The questions of gold files (read and checked by :func:`eval.gold.load_gold`)."""
    return [q.question for q in load_gold(gold)]


def hammer(target: str, clients: int, seconds: float, make_call: Callable[[int], Callable[[str], object]],
           asked: list[str]) -> LoadResult:
    """Run ``clients`` threads, each asking questions in turn until ``seconds`` have passed."""
    result = LoadResult(target, clients, seconds)
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(number: int) -> None:
        call = make_call(number)
        i = number
        while time.perf_counter() < deadline:
            question = asked[i % len(asked)]
            i += clients
            started = time.perf_counter()
            try:
                call(question)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    result.errors.append(f"{question[:30]}: {exc.__class__.__name__}: {exc}")
                continue
            with lock:
                result.latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    result.seconds = time.perf_counter() - started
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(index: Path, port: int, timeout: float = 180) -> subprocess.Popen:
    """Start app.py on 127.0.0.1:port over ``index`` and wait until it answers."""
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--index", str(index), "--host", "127.0.0.1",
                                "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
            return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"app.py did not answer on port {port} within {timeout:.0f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=ROOT / "eval" / "out" / "load-index",
                        help="index folder (built from the bundled letters when empty)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration per target")
    parser.add_argument("--gold", type=Path, action="append", help="question files (default: eval/data/samples.jsonl)")
    parser.add_argument("--no-app", action="store_true", help="only the Python API target")
    args = parser.parse_args(argv)

    asked = questions(args.gold or DEFAULT_GOLD)
    index = open_index(args.index, [ROOT / "letters"])
    results = [hammer("api (index.ask)", args.clients, args.seconds,
                      lambda _n: (lambda q: index.ask(q, k=5)), asked)]
    if not args.no_app:
        from gradio_client import Client

        port = free_port()
        app = start_app(args.index, port)
        try:
            def client_call(n: int) -> Callable[[str], object]:
                # the app limits each client address (Config.max_asks_per_client); uvicorn takes the address from
                # X-Forwarded-For on a connection from 127.0.0.1, as from a local proxy: one address per client
                client = Client(f"http://127.0.0.1:{port}/", verbose=False,
                                headers={"X-Forwarded-For": f"10.0.0.{n + 1}"})
                return lambda q: client.predict(q, 5, None, None, None, [], "zh", api_name="/ask")

            results.append(hammer("app (gradio_client /ask)", args.clients, args.seconds, client_call, asked))
        finally:
            app.terminate()
            try:
                app.wait(timeout=20)
            except subprocess.TimeoutExpired:
                app.kill()
    print("| target | clients | requests | errors | req/s | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        print(result.row())
    for result in results:
        for error in result.errors[:5]:
            print(f"error ({result.target}): {error}", file=sys.stderr)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # pragma: no cover - a crash is reported, not hidden
        traceback.print_exc()
        sys.exit(2)
