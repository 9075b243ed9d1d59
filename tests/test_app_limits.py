"""The running app under hostile clients: a trickling model endpoint, one client address sending several questions
at once (each in a new session) while another asks, a 1 MB question posted to the API."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .test_app_browser import _serve_app

pytestmark = pytest.mark.slow

SLOW = "慢慢回答"
ANSWER = "临床试验费用纳入创新券范围，给予30%补助[1]。"


def _ask(client: object, question: str) -> tuple[str, float]:
    """Ask through /ask_streaming (an app with a model); the last chat message's HTML and the seconds it took."""
    started = time.monotonic()
    result = client.predict(question, 5, None, None, None, [], "en", api_name="/ask_streaming")  # type: ignore[attr-defined]
    chat = result[0]
    return str(chat[-1]["content"]), time.monotonic() - started


def test_trickling_endpoint_and_a_greedy_client_do_not_starve_others(tmp_path: Path, chat_completions_protocol):
    from gradio_client import Client

    url, script = chat_completions_protocol
    script.reply, script.chunk_size, script.delay, script.slow_when = ANSWER * 3, 7, 1.0, SLOW  # slow: 12 s
    with _serve_app(tmp_path, "--llm-url", url, "--llm-model", "scripted", "--llm-timeout", "4") as app:
        # uvicorn takes a connection's address from X-Forwarded-For when it comes from 127.0.0.1 (a local proxy):
        # two addresses; the greedy one opens a new session (a new session hash) for each of its questions
        greedy = [Client(app["url"], verbose=False, headers={"X-Forwarded-For": "10.0.0.1"}) for _ in range(3)]
        other = Client(app["url"], verbose=False, headers={"X-Forwarded-For": "10.0.0.2"})
        slow_question = f"医疗器械临床试验费用能不能用创新券？{SLOW}"
        with ThreadPoolExecutor(4) as pool:
            slow = [pool.submit(_ask, client, slow_question) for client in greedy]
            time.sleep(1.0)
            fast_html, fast_seconds = _ask(other, "医疗器械临床试验费用能不能用创新券？")
            trickling_meanwhile = sum(not future.done() for future in slow)
            answers = [future.result(timeout=120) for future in slow]

        # the other client was answered while the greedy client's trickling question still held its worker
        assert "纳入创新券范围" in fast_html and "引用: [1]" in fast_html and trickling_meanwhile == 1
        fell_back = [(html, s) for html, s in answers if "did not finish its reply within 4 s" in html]
        refused = [(html, s) for html, s in answers if "this address already has 1 question being answered" in html]
        assert len(fell_back) == 1 and len(refused) == 2, answers

        huge = "二类医疗器械注册有哪些补助？" + "补助" * 500_000
        html, seconds = _ask(other, huge)
        assert "only the first 2,000 were used" in html
        print(f"app: other client answered in {fast_seconds:.2f} s while a trickling one fell back after "
              f"{fell_back[0][1]:.1f} s; 1 MB question in {seconds:.2f} s")
