"""The load-test harness (eval/load.py) counts requests and errors from concurrent clients."""

from __future__ import annotations

from eval.load import DEFAULT_GOLD, hammer, questions
from rag import Index


def test_concurrent_clients_against_the_api_make_no_errors(fake_index: Index):
    asked = questions(DEFAULT_GOLD)
    assert len(asked) == 28
    result = hammer("api", 3, 0.5, lambda _n: (lambda q: fake_index.ask(q, k=3)), asked)
    assert result.requests > 0 and result.errors == []
    assert result.row().startswith("| api | 3 | ")


def test_failures_are_counted_not_hidden():
    def failing(_n):
        def call(question: str) -> None:
            raise RuntimeError("boom")
        return call

    result = hammer("broken", 2, 0.2, failing, ["q1", "q2"])
    assert result.latencies == [] and result.requests == len(result.errors) > 0
    assert set(result.errors) <= {"q1: RuntimeError: boom", "q2: RuntimeError: boom"}
