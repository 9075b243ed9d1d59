"""End-to-end: the web UI in a real browser (Debian's Chromium, headless, driven by Playwright).

One app process serves every test: started without an index, it builds one from the bundled
letters into a temporary folder, as `python app.py` does on a first start. Letters uploaded by a
test are removed by it. The Class II test saves a screenshot (`make screenshot`: the README's docs/screenshot.png).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eval.load import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# `make screenshot` points this at docs/screenshot.png (the README's picture); plain test runs leave the
# tracked file alone.
SCREENSHOT = Path(os.environ.get("POLICY_RAG_SCREENSHOT") or Path(tempfile.gettempdir()) / "policy-rag-screenshot.png")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 30_000
CLASS_II = "What subsidies exist for Class II device registration?"
CLASS_II_ZH = "二类医疗器械注册有哪些补助？"
CIXI = "慈卫建〔2021〕15号"
CJK = re.compile(r"[\u4e00-\u9fff]")

EVIL_LETTER = """测试市脚本安全局

测试脚〔2024〕9号

关于<script>window.__pwned = 1; alert("xss")</script>测试提案的答复

王五代表：
　　您提出的《关于<img src=x onerror="window.__pwned = 2; alert(2)">琉璃瓦修缮补贴的建议》收悉，现答复如下：
　　一、琉璃瓦修缮补贴按每平方米120元发放，详见[补贴细则](javascript:window.__pwned=3)和![图](http://127.0.0.1:9/x.png)。
　　二、模板字符串${window.__pwned = 4}与{{constructor.constructor('window.__pwned=5')()}}不会执行。

测试市脚本安全局
2024年3月1日
"""


def _has_cjk_font() -> bool:
    try:
        found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(found.strip())


def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("the browser tests need Debian's Chromium: `make browser` (apt-get install chromium)")
    return path


@contextmanager
def _serve_app(folder: Path, *extra: str) -> Iterator[dict[str, object]]:
    """`python app.py --index folder/index ... *extra` on a free loopback port, until the block ends."""
    port = free_port()
    log = (folder / "app.log").open("w+", encoding="utf-8")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(folder / "gradio"),
           "HF_HUB_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--index", str(folder / "index"), "--host", "127.0.0.1",
         "--port", str(port), "--max-upload-mb", "1", *extra],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    try:
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"app.py exited with {process.returncode}:\n{log.read()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"app.py did not answer on {url} within 180 s:\n{log.read()}")
            time.sleep(0.5)
        yield {"url": url, "index": folder / "index", "folder": folder, "log": log}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """`python app.py` on a free loopback port, with a fresh index built from the bundled letters."""
    with _serve_app(tmp_path_factory.mktemp("app")) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


_ADDRESSES = itertools.count(1)


class Session:
    """One browser context (its own Gradio session) on the app, recording any dialog it raises."""

    def __init__(self, browser: object, url: str) -> None:
        # the app limits questions per client address; uvicorn reads it from X-Forwarded-For on a connection from
        # 127.0.0.1 (as from a local proxy): each session is a client of its own
        self.context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True,
                                           extra_http_headers={"X-Forwarded-For": f"10.1.0.{next(_ADDRESSES)}"})
        self.context.set_default_timeout(TIMEOUT_MS)
        from playwright.sync_api import expect

        expect.set_options(timeout=TIMEOUT_MS)  # assertions retry as long as actions wait (5 s failed under load)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []  # alerts and prompts: none may ever appear (a letter's script would raise them)
        self.confirms: list[str] = []  # questions the UI asks before it does something that cannot be undone
        self.confirm = True  # the answer given to them
        self.page.on("dialog", self._dialog)
        self.page.goto(url)
        self.page.locator("#question textarea").wait_for()

    def _dialog(self, dialog: object) -> None:
        if dialog.type == "confirm":  # type: ignore[attr-defined]
            self.confirms.append(dialog.message)  # type: ignore[attr-defined]
            (dialog.accept if self.confirm else dialog.dismiss)()  # type: ignore[attr-defined]
        else:
            self.dialogs.append(dialog.message)  # type: ignore[attr-defined]
            dialog.dismiss()  # type: ignore[attr-defined]

    def send(self, question: str) -> None:
        """Type a question and send it, without waiting for the reply."""
        self.page.locator("#question textarea").fill(question)
        self.page.locator("#send").click()

    def wait_replies(self, count: int) -> None:
        self.page.locator('#chat [data-testid="bot"]').nth(count - 1).wait_for()
        self.page.locator(f'#evidence [data-turn="{count - 1}"], #evidence .rag-notice').first.wait_for()

    def ask(self, question: str) -> str:
        """Ask and wait for the reply; returns the cards' text."""
        count = self.page.locator('#chat [data-testid="bot"]').count()
        self.send(question)
        self.wait_replies(count + 1)
        return self.page.locator("#evidence").inner_text()

    def cards(self) -> list[str]:
        return self.page.locator("#evidence article.rag-card").all_inner_texts()

    def user_messages(self) -> list[str]:
        return self.page.locator('#chat [data-testid="user"]').all_inner_texts()

    def open_citation(self, text: str) -> None:
        """Click the citation of the first card that contains ``text``; wait for the letter."""
        card = self.page.locator("#evidence article.rag-card", has_text=text).first
        card.locator("button.rag-cite").first.click()
        self.page.locator("#letter mark#cited-span").wait_for()

    def upload(self, paths: list[Path]) -> str:
        """Upload files in the library tab; returns the report's text."""
        self.page.get_by_role("tab", name=re.compile("文库|Library")).first.click()
        before = self.page.locator("#upload-report").inner_text()
        with self.page.expect_file_chooser() as chooser:  # as a person does: click the button, pick files
            self.page.locator("#upload").click()
        chooser.value.set_files([str(p) for p in paths])
        report = self.page.locator("#upload-report .rag-report")
        report.wait_for()
        if before:
            self.page.wait_for_function(
                "old => document.querySelector('#upload-report').innerText !== old", arg=before)
        return self.page.locator("#upload-report").inner_text()

    def remove(self, letter_id: str) -> str:
        self.page.get_by_role("tab", name=re.compile("文库|Library")).first.click()
        self.page.locator("#remove-pick input").click()
        self.page.locator("#remove-pick input").fill(letter_id)
        self.page.get_by_role("option", name=re.compile(re.escape(letter_id))).first.click()
        self.page.locator("#remove").click()
        self.page.locator("#upload-report", has_text=letter_id).wait_for()
        self.page.locator(f'#letters-table tr[data-letter="{letter_id}"]').wait_for(state="detached")
        return self.page.locator("#upload-report").inner_text()

    def to_ask_tab(self) -> None:
        self.page.get_by_role("tab", name=re.compile("提问|Ask")).first.click()
        self.page.locator("#question textarea").wait_for()

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def session(app: dict[str, object], browser: object) -> Iterator[Session]:
    current = Session(browser, str(app["url"]))
    yield current
    current.close()


def test_start_builds_the_index_from_the_bundled_letters_with_progress(app: dict[str, object]) -> None:
    log = app["log"]
    log.seek(0)
    output = log.read()
    assert f"Building the index in {app['index']} from {ROOT / 'letters'}" in output
    assert re.search(r"embedding chunks: (\d+)/\1 \(100%\)", output), output
    assert "2 letters" in output and (Path(str(app["index"])) / "manifest.json").is_file()
    deadline = time.monotonic() + 60  # the page answers as soon as it is up; the line is printed just after
    while "policy-rag is serving" not in output and time.monotonic() < deadline:
        time.sleep(0.2)
        log.seek(0)
        output = log.read()
    assert f"policy-rag is serving {app['url']} (Ctrl-C stops it)" in output and "share=True" not in output


def test_class_ii_chip_answers_with_the_cixi_letter(session: Session) -> None:
    session.page.locator("button.rag-chip", has_text=CLASS_II).click()
    session.wait_replies(1)
    assert session.user_messages() == [CLASS_II]
    cited = [card for card in session.cards() if CIXI in card]
    assert cited, f"no card cites {CIXI}: {session.cards()}"
    assert "二类、三类医疗器械产品相关资质给予专项支持" in cited[0]
    assert "慈溪市卫生健康局" in cited[0] and "2021-06-30" in cited[0]
    assert re.search(r"\[\d\]", session.page.locator('#chat [data-testid="bot"]').last.inner_text())
    card = session.page.locator("#evidence article.rag-card", has_text=CIXI).first
    assert "二类" in " ".join(card.locator("mark").all_inner_texts())
    session.open_citation(CIXI)
    # The README's screenshot: the reply, the cited card at the top of its panel, the letter opened at the span.
    card.evaluate("""card => {
        let box = card.parentElement;
        while (box && box.scrollHeight <= box.clientHeight + 1) box = box.parentElement;
        if (box && box !== document.scrollingElement)
            box.scrollTop += card.getBoundingClientRect().top - box.getBoundingClientRect().top;
    }""")
    session.page.evaluate("() => window.scrollTo(0, 0)")
    if not _has_cjk_font():
        warnings.warn("no Chinese font installed (apt-get install fonts-wqy-microhei): the screenshot shows boxes",
                      stacklevel=1)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    session.page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


def test_english_question_gets_a_chinese_cited_passage(session: Session) -> None:
    text = session.ask("How large can the reward for equipment investment in key technical transformation "
                       "projects be?")
    cards = session.cards()
    assert cards and CJK.search(cards[0]) and "〔" in cards[0]
    assert "最高400万" in text


def test_citation_opens_the_letter_at_the_highlighted_span(session: Session) -> None:
    session.ask(CLASS_II_ZH)
    card = session.page.locator("#evidence article.rag-card", has_text=CIXI).first
    passage = card.locator(".rag-passage").inner_text()
    card_marks = [m.strip() for m in card.locator("mark").all_inner_texts()]
    assert card_marks, "the card highlights the sentences that match"
    session.open_citation(CIXI)
    letter = session.page.locator("#letter")
    head = letter.locator(".rag-letter-head").inner_text()
    for value in ("对市十七届人大五次会议第276号建议的答复", "李佳代表", "2021-06-30", "史国建", CIXI):
        assert value in head
    mark = letter.locator("mark#cited-span")
    marked = mark.inner_text().strip()
    assert marked and marked in passage  # the cited span is the quote or passage of the card
    assert any(m in marked for m in card_marks)  # the quote of [n] (answers) or the whole passage
    from playwright.sync_api import expect

    expect(mark).to_be_in_viewport()
    body = letter.locator(".rag-letter-text").inner_text()
    assert body.count(marked) == 1 and len(body) > 2000  # the whole letter, not the passage


def test_upload_a_letter_then_find_it_and_remove_it(session: Session, app: dict[str, object],
                                                   shared_letters: Path, tmp_path: Path) -> None:
    bus = tmp_path / "巴南 公交 ../复函.txt".replace("/", "_")
    shutil.copyfile(shared_letters / "x032.txt", bus)
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x00\x00 not a letter")
    big = tmp_path / "huge.txt"
    big.write_text("甲" * 400_000, encoding="utf-8")  # 1.2 MB; the app was started with --max-upload-mb 1
    empty = tmp_path / "blank.md"
    empty.write_text("   \n", encoding="utf-8")
    report = session.upload([bus, exe, big, empty])
    assert "tool.exe: unsupported file type '.exe'" in report
    assert re.search(r"huge\.txt: too large", report)
    assert "blank.md: empty file" in report
    summary = session.page.locator("#library-summary").inner_text()
    assert "3 封信" in summary or "3 letters" in summary  # the two bundled letters are still there
    assert "封信" not in report and "letters," not in report  # the library's size is shown once, not again here
    uploads = Path(str(app["index"])) / "uploads"
    stored = sorted(p.name for p in uploads.iterdir())
    assert len(stored) == 1 and "/" not in stored[0] and not stored[0].startswith(".")
    letter_id = Path(stored[0]).stem
    assert session.page.locator(f'#letters-table tr[data-letter="{letter_id}"]').inner_text().count("巴南交通发") == 1

    session.to_ask_tab()
    session.ask("麻天公路能不能开通公交车？")
    assert "巴南交通发〔2020〕188号" in session.cards()[0]

    result = session.remove(letter_id)
    assert letter_id in result
    session.page.locator("#library-summary", has_text=re.compile("2 封信|2 letters")).wait_for()
    assert list(uploads.iterdir()) == []
    session.to_ask_tab()
    session.ask("麻天公路能不能开通公交车？")
    assert not any("巴南交通发" in card for card in session.cards())


def test_a_letter_with_script_renders_as_inert_text(session: Session, tmp_path: Path) -> None:
    evil = tmp_path / '<img src=x onerror="alert(9)">琉璃瓦.txt'
    evil.write_text(EVIL_LETTER, encoding="utf-8")
    report = session.upload([evil])
    assert "rag-bad" not in session.page.locator("#upload-report").inner_html()
    letter_id = session.page.locator("#letters-table tr", has_text="测试脚〔2024〕9号").get_attribute("data-letter")
    assert letter_id, report
    table = session.page.locator("#letters-table").inner_text()
    assert "<script>" in table  # the title, shown as text
    try:
        session.to_ask_tab()
        session.ask("琉璃瓦修缮补贴每平方米多少钱？")
        cards = session.page.locator("#evidence")
        assert any("测试脚〔2024〕9号" in card for card in session.cards())
        session.open_citation("测试脚〔2024〕9号")
        letter = session.page.locator("#letter")
        text = letter.inner_text()
        assert '<script>window.__pwned = 1; alert("xss")</script>' in text
        assert '<img src=x onerror="window.__pwned = 2; alert(2)">' in text
        assert "[补贴细则](javascript:window.__pwned=3)" in text
        assert "${window.__pwned = 4}" in text
        for area in (cards, letter, session.page.locator("#chat"), session.page.locator("#letters-table")):
            assert area.locator("script, img[src='x'], a[href^='javascript'], img[src*='127.0.0.1:9']").count() == 0
        assert session.page.evaluate("() => window.__pwned") is None
        assert session.dialogs == []
    finally:
        session.remove(letter_id)


def test_two_sessions_keep_their_own_histories(app: dict[str, object], browser: object) -> None:
    first, second = Session(browser, str(app["url"])), Session(browser, str(app["url"]))
    try:
        first.send(CLASS_II_ZH)
        second.send(CLASS_II)  # both questions are in flight at once
        first.wait_replies(1)
        second.wait_replies(1)
        first.send("那三类呢？")
        second.send("what about Class III?")
        first.wait_replies(2)
        second.wait_replies(2)
        assert first.user_messages() == [CLASS_II_ZH, "那三类呢？"]
        assert second.user_messages() == [CLASS_II, "what about Class III?"]
        first_reply = first.page.locator('#chat [data-testid="bot"]').last.inner_text()
        second_reply = second.page.locator('#chat [data-testid="bot"]').last.inner_text()
        assert "三类医疗器械注册有哪些补助？" in first_reply  # the follow-up used this session's question
        assert "What subsidies exist for Class III device registration?" in second_reply
        assert CLASS_II not in first.page.locator("#chat").inner_text()
        assert CLASS_II_ZH not in second.page.locator("#chat").inner_text()
        assert any(CIXI in card for card in first.cards()) and any(CIXI in card for card in second.cards())
    finally:
        first.close()
        second.close()


def test_export_the_answer_as_markdown(session: Session) -> None:
    session.ask(CLASS_II_ZH)
    with session.page.expect_download() as download:
        session.page.locator("#export").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert markdown.startswith(f"# {CLASS_II_ZH}")
    assert f"{CIXI} · 一（二）" in markdown
    assert re.search(r"^### \\\[\d\\\] ", markdown, re.M)


def test_interface_labels_switch_to_english(session: Session) -> None:
    session.page.get_by_text("English", exact=True).click()
    session.page.locator("#send", has_text="Send").wait_for()
    session.page.get_by_role("tab", name="Library").first.wait_for()
    session.ask("医疗器械临床试验费用能不能用创新券？")
    assert session.page.locator('#evidence .rag-meta span[title="Agency"]').count() >= 1
    session.open_citation("〔")
    assert "Addressee" in session.page.locator("#letter .rag-letter-head").inner_text()
    session.page.get_by_text("中文", exact=True).click()
    session.page.locator("#send", has_text="发送").wait_for()
    assert "收件人" in session.page.locator("#letter .rag-letter-head").inner_text()


def test_switching_the_language_leaves_the_page_where_it_was(session: Session) -> None:
    session.ask(CLASS_II_ZH)
    session.open_citation(CIXI)
    # the citation's span may still be scrolling into view (smoothly, slower on a busy machine): scroll to the top
    # until the page stays there
    session.page.wait_for_function("() => { window.scrollTo(0, 0); return window.scrollY === 0; }")
    session.page.wait_for_timeout(300)
    session.page.wait_for_function("() => { window.scrollTo(0, 0); return window.scrollY === 0; }")
    session.page.get_by_text("English", exact=True).click()
    session.page.locator("#letter .rag-letter-head", has_text="Addressee").wait_for()
    session.page.wait_for_timeout(500)  # the letter view's script runs after its new value is shown
    assert session.page.evaluate("() => window.scrollY") == 0


def test_agency_filter_restricts_the_passages(session: Session) -> None:
    session.page.locator("#settings").get_by_text(re.compile("筛选与设置|Filters and settings")).click()
    session.page.locator("#agency input").click()
    session.page.get_by_role("option", name="河北省工业和信息化厅").click()
    session.page.locator("#agency input[role=combobox]").press("Escape")
    session.ask(CLASS_II)
    cards = session.cards()
    assert cards and all("河北省工业和信息化厅" in card for card in cards)


# Records the text of every assistant bubble each time the chat changes, to see a draft grow.
RECORD_DRAFTS_JS = """() => {
  window.__bubbles = [];
  new MutationObserver(() => {
    const bubbles = document.querySelectorAll('#chat [data-testid="bot"]');
    for (const bubble of bubbles) window.__bubbles.push(bubble.innerText);
  }).observe(document.querySelector('#chat'), {subtree: true, childList: true, characterData: true});
}"""


def test_llm_answer_streams_in_then_shows_the_checked_answer(app: dict[str, object], browser: object,
                                                           chat_completions_protocol, tmp_path: Path) -> None:
    url, script = chat_completions_protocol
    script.reply = "临床试验费用纳入创新券范围，给予30%补助[1]。"
    script.chunk_size, script.delay = 3, 0.15  # several deltas, slow enough for the browser to show each
    shutil.copytree(Path(str(app["index"])), tmp_path / "index")  # the module app's index, loaded as is
    with _serve_app(tmp_path, "--llm-url", url, "--llm-model", "scripted") as served:
        session = Session(browser, str(served["url"]))
        try:
            session.page.evaluate(RECORD_DRAFTS_JS)
            session.send("医疗器械临床试验费用能不能用创新券？")
            # the draft bubble comes first; the cards arrive with the checked answer
            session.page.locator('#evidence [data-turn="0"]').first.wait_for()
            from playwright.sync_api import expect

            bot = session.page.locator('#chat [data-testid="bot"]')
            expect(bot.last).to_contain_text("临床试验费用纳入创新券范围，给予30%补助。[1]")
            assert bot.count() == 1 and "正在生成" not in bot.last.inner_text()
            card = session.page.locator('#evidence article.rag-card[data-n~="1"]')
            assert card.count() == 1 and "〔" in card.inner_text()
            assert card.locator("mark").count() >= 1  # the quote of [1], highlighted
            drafts = {text for text in session.page.evaluate("() => window.__bubbles") if "正在生成" in text}
            assert len(drafts) >= 2, drafts  # the draft grew in front of the reader
            assert any(script.reply[:3] in text and script.reply not in text for text in drafts), drafts
        finally:
            session.close()
    assert script.requests[0]["model"] == "scripted" and script.requests[0]["stream"] is True


CLINICAL = "医疗器械临床试验费用能不能用创新券？"
HEBEI = "河北省如何支持高端医疗器械研发？"


def _in_viewport(locator: object) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 1000


def test_cards_come_first_and_show_without_inner_scrolling(session: Session) -> None:
    session.ask(CLINICAL)
    evidence = session.page.locator("#evidence")
    first = evidence.locator("article.rag-card").first
    assert _in_viewport(first.locator(".rag-card-head")) and _in_viewport(first.locator("mark").first)
    # no element of the panel scrolls on its own: the cards are not clipped
    clipped = evidence.evaluate("""e => [e, ...e.querySelectorAll('*')].filter(x =>
        x.scrollHeight > x.clientHeight + 1 && getComputedStyle(x).overflowY.match(/auto|scroll|hidden/)).length""")
    assert clipped == 0
    table = evidence.locator("details.rag-support")
    assert table.count() == 1 and table.get_attribute("open") is None  # folded, below the cards
    order = evidence.evaluate(
        "e => [...e.querySelectorAll('article.rag-card, details.rag-support')].map(x => x.tagName)")
    assert order[-1] == "DETAILS" and order.count("DETAILS") == 1
    table.locator("summary").click()
    for row in table.locator("tbody tr").all():  # a row says how much, up to what or for whom
        cells = row.locator("td").all_inner_texts()
        assert any(cell.strip() for cell in cells[1:4]), cells


def test_numbers_agree_between_answer_table_and_cards(session: Session) -> None:
    session.ask(CLINICAL)
    bubble = session.page.locator('#chat [data-testid="bot"]').last.inner_text()
    answer, footer = bubble.rsplit("引用", 1)
    in_text = set(re.findall(r"\[(\d+)\]", answer))
    in_footer = set(re.findall(r"\[(\d+)\]", footer))
    evidence = session.page.locator("#evidence")
    on_cards = {b.get_attribute("data-n") for b in evidence.locator(".rag-card-head button.rag-cite").all()}
    in_table = set(re.findall(r"\[(\d+)\]", " ".join(evidence.locator("details.rag-support td").all_text_contents())))
    assert in_text and in_text == in_footer == on_cards
    assert in_table and in_table <= in_text


def test_clicking_a_citation_again_brings_the_span_back(session: Session) -> None:
    from playwright.sync_api import expect

    session.ask(CLASS_II_ZH)
    session.open_citation(CIXI)
    mark = session.page.locator("#letter mark#cited-span")
    expect(mark).to_be_in_viewport()
    for _ in range(10):  # the app may still be scrolling to the span (late under load): scroll away until it stays
        session.page.evaluate("""() => { window.scrollTo(0, 0);
            document.querySelector('#letter .rag-letter').scrollTop = 0; }""")
        try:
            expect(mark).not_to_be_in_viewport(timeout=2000)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError("the cited span never left the viewport")
    session.page.locator("#evidence article.rag-card", has_text=CIXI).first.locator("button.rag-cite").first.click()
    expect(mark).to_be_in_viewport()


def test_the_letter_follows_a_new_reply(session: Session) -> None:
    session.ask(CLASS_II_ZH)
    session.open_citation(CIXI)
    assert session.page.locator("#letter .rag-letter").get_attribute("data-letter") == "000_3530caffdd2f932b"
    session.ask(HEBEI)
    letter = session.page.locator('#letter .rag-letter[data-opened^="1:"]')
    letter.wait_for()
    first_card = session.page.locator("#evidence article.rag-card").first.inner_text()
    assert "冀工信承字" in first_card and letter.get_attribute("data-letter") == "004_dce9e1310b5c7813"
    assert letter.locator("mark#cited-span").count() == 1


def test_an_off_topic_english_question_is_declined_in_english(session: Session) -> None:
    session.ask("What is the VAT rate on imported MRI scanners?")
    bot = session.page.locator('#chat [data-testid="bot"]').last
    text = bot.inner_text()
    assert text.startswith("The indexed letters do not address this.")
    assert not CJK.search(text)  # the Chinese interface does not switch the reply's language
    closest = bot.locator("details")
    assert closest.count() == 1 and closest.get_attribute("open") is None
    assert len(bot.locator("p").all()) == 1  # one short message; the closest passages folded under it


def test_small_details_of_the_page(session: Session) -> None:
    session.ask(CLASS_II_ZH)
    assert session.page.locator('#chat [data-testid="block-label"]').count() == 0  # no label over the messages
    card = session.page.locator("#evidence article.rag-card", has_text=CIXI).first
    numbers = card.locator(".rag-num").all_inner_texts()
    assert "2021" not in numbers and "15" not in numbers  # 慈卫建〔2021〕15号 is a name, not an amount
    session.page.get_by_text("English", exact=True).click()
    session.page.locator("#send", has_text="Send").wait_for()
    fits = session.page.locator("#question textarea").evaluate("""box => {
        const style = getComputedStyle(box), ruler = document.createElement('span');
        ruler.style.cssText = 'position:absolute;display:inline-block;white-space:pre;font:' + style.font;
        ruler.textContent = box.placeholder;
        document.body.appendChild(ruler);
        const width = ruler.getBoundingClientRect().width; ruler.remove();
        return width <= box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    }""")
    assert fits  # the English placeholder is not cut off


def test_only_the_session_heartbeat_stays_open(app: dict[str, object], browser: object) -> None:
    """Why `networkidle` never comes: Gradio keeps one request open per session, its heartbeat
    (`/gradio_api/heartbeat/<session>`), to free the session's state when the tab closes. Nothing else may hang."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    pending: dict[int, str] = {}
    page.on("request", lambda r: pending.__setitem__(id(r), r.url))
    page.on("requestfinished", lambda r: pending.pop(id(r), None))
    page.on("requestfailed", lambda r: pending.pop(id(r), None))
    try:
        page.goto(str(app["url"]))
        page.locator("#question textarea").wait_for()
        page.locator("#question textarea").fill(CLASS_II_ZH)
        page.locator("#send").click()
        page.locator('#evidence [data-turn="0"]').first.wait_for()
        page.wait_for_timeout(3000)
        hanging = sorted(pending.values())
        assert len(hanging) == 1 and re.search(r"/gradio_api/heartbeat/\w+$", hanging[0]), hanging
    finally:
        context.close()


def test_the_upload_control_speaks_the_interface_language(session: Session) -> None:
    session.page.get_by_role("tab", name="文库").first.click()
    upload = session.page.locator("#upload")
    upload.wait_for()
    assert "上传信件" in upload.inner_text()
    assert "Drop File Here" not in session.page.locator("#library-tab").inner_text()  # Gradio's own English
    session.page.get_by_text("English", exact=True).click()
    session.page.locator("#upload", has_text="Upload letters").wait_for()
    assert "上传信件" not in session.page.locator("#library-tab").inner_text()


def test_the_letter_header_scrolls_away_with_the_text(session: Session) -> None:
    """Scrolling through a letter moves its metadata header out of the way instead of keeping it pinned."""
    session.ask(CLASS_II_ZH)
    session.open_citation(CIXI)
    session.page.locator("#letter mark#cited-span").wait_for()
    header_in_view = session.page.evaluate("""() => {
        const mark = document.querySelector('#letter #cited-span');
        let box = mark.parentElement;  // the letter's own scroll box
        while (box && !['auto', 'scroll'].includes(getComputedStyle(box).overflowY)) box = box.parentElement;
        document.querySelector('#letter').scrollIntoView({block: 'start', behavior: 'instant'});
        box.scrollTop = box.scrollHeight;  // read on to the end of the letter
        const header = document.querySelector('#letter .rag-letter-head');
        const head = header.getBoundingClientRect();
        const x = head.left + head.width / 2, y = Math.max(head.top, 0) + 5;
        if (head.bottom <= 0 || y >= innerHeight) return false;
        const seen = document.elementFromPoint(x, y);  // what a reader sees where the header was
        return seen !== null && header.contains(seen);
    }""")
    assert not header_in_view


def _pick(session: Session, dropdown: str, option: str) -> None:
    session.page.locator(f"#{dropdown} input").click()
    session.page.get_by_role("option", name=option, exact=True).click()
    session.page.locator(f"#{dropdown} input[role=combobox]").press("Escape")


def test_filters_that_exclude_every_letter_say_so(session: Session) -> None:
    session.page.locator("#settings").get_by_text(re.compile("筛选与设置|Filters and settings")).click()
    _pick(session, "agency", "慈溪市卫生健康局")  # its one letter is from 2021
    _pick(session, "year-from", "2023")
    session.ask(CLASS_II_ZH)
    reply = session.page.locator('#chat [data-testid="bot"]').last.inner_text()
    assert "筛选条件排除了所有答复函" in reply and "未涉及" not in reply
    assert "筛选条件排除了所有答复函" in session.page.locator("#evidence").inner_text()
    _save(session, "filters-exclude-everything.png")


def test_a_citation_marker_in_the_reply_opens_the_letter(session: Session) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    session.ask("医疗器械临床试验费用能不能用创新券？")
    bubble = session.page.locator('#chat [data-testid="bot"]').last
    markers = bubble.locator("button.rag-cite")
    assert markers.count() >= 2 and markers.first.inner_text() == "[1]"
    assert "rag-turn-0 rag-n-2" in (markers.nth(1).get_attribute("class") or "")
    opened = session.page.locator('#letter .rag-letter[data-opened="0:2"] mark#cited-span')
    for _ in range(3):  # a click landing while the finished reply replaces its draft is lost: click again, as one would
        markers.nth(1).click()
        try:
            opened.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    opened.wait_for()
    _save(session, "citation-marker-opens-letter.png")


def test_the_open_letter_keeps_its_document_line_in_view(session: Session) -> None:
    session.ask(CLASS_II_ZH)
    session.open_citation(CIXI)
    view = session.page.locator("#letter .rag-letter[data-letter]")
    view.evaluate("box => { box.scrollTop = box.scrollHeight; }")  # far past the header, as a long letter is
    bar = session.page.locator("#letter .rag-letter-bar")
    assert bar.inner_text() == f"{CIXI} · 慈溪市卫生健康局 · 2021-06-30"
    box, line = view.bounding_box(), bar.bounding_box()
    assert box and line and box["y"] - 1 <= line["y"] <= box["y"] + 2, (box, line)
    assert session.page.locator("#letter .rag-letter-head h3").evaluate(
        "h => h.getBoundingClientRect().bottom < h.closest('.rag-letter').getBoundingClientRect().top")
    _save(session, "letter-line-in-view.png")


def test_removing_a_letter_asks_first(session: Session, tmp_path: Path) -> None:
    letter = tmp_path / "confirm-removal.txt"
    letter.write_text("测试市卫生健康局\n\n关于测试确认移除的答复\n\n张三代表：\n　　一、确认移除前先询问。\n\n"
                      "测试市卫生健康局\n2024年5月1日\n", encoding="utf-8")
    rows = session.page.locator("#letters-table tr[data-letter]")
    session.page.get_by_role("tab", name=re.compile("文库|Library")).first.click()
    before = {rows.nth(i).get_attribute("data-letter") for i in range(rows.count())}
    report = session.upload([letter])
    rows.nth(len(before)).wait_for()
    added = {rows.nth(i).get_attribute("data-letter") for i in range(rows.count())} - before
    assert len(added) == 1, report
    letter_id = added.pop()
    assert letter_id
    session.confirm = False
    session.page.locator("#remove-pick input").click()
    session.page.locator("#remove-pick input").fill(letter_id)
    session.page.get_by_role("option", name=re.compile(re.escape(letter_id))).first.click()
    session.page.locator("#remove").click()
    session.page.locator("#upload-report", has_text=re.compile("请先选择|Choose a letter")).wait_for()
    assert session.confirms and letter_id in session.confirms[-1] and "不可撤销" in session.confirms[-1]
    assert session.page.locator(f'#letters-table tr[data-letter="{letter_id}"]').count() == 1
    session.confirm = True
    session.remove(letter_id)
    assert len(session.confirms) == 2


def _save(session: Session, name: str) -> None:
    """A screenshot of what the test saw, beside the README's (for a reviewer; nothing asserts on it)."""
    session.page.screenshot(path=str(SCREENSHOT.parent / name), full_page=True)


def test_the_compare_tab_table_chart_citation_and_csv(browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from .test_compare import LETTERS, QUESTION, REPOSTED

    letters = tmp_path / "letters"
    letters.mkdir()
    for stem, text in LETTERS.items():
        (letters / f"{stem}.txt").write_text(text, encoding="utf-8")
    (letters / "zz-cixi-reposted.txt").write_text(REPOSTED, encoding="utf-8")
    with _serve_app(tmp_path, "--letters", str(letters)) as served:
        session = Session(browser, str(served["url"]))
        try:
            page = session.page
            page.get_by_role("tab", name=re.compile("对比|Compare")).first.click()
            page.locator("#compare-question textarea").fill(QUESTION)
            page.locator("#compare-run").click()
            rows = page.locator("#compare-table tr[data-letter]")
            expect(rows).to_have_count(4)
            assert [rows.nth(i).get_attribute("data-letter") for i in range(4)] == [
                "suzhou", "cixi", "guangzhou", "chengdu"]
            assert "最高50万元" in rows.nth(2).inner_text() and "30%" in rows.nth(0).inner_text()
            expect(page.locator("#compare-chart .rag-bar")).to_have_count(4)
            quote = rows.nth(1).locator("button.rag-compare-cite")
            quote.click()
            mark = page.locator('#compare-letter .rag-letter[data-letter="cixi"] mark#cited-span')
            mark.wait_for()
            assert mark.inner_text().strip() in quote.inner_text()
            with page.expect_download() as download:
                page.locator("#compare-csv").click()
            lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
            assert len(lines) == 5 and lines[0].startswith("letter_id,province") and "最高50万元" in lines[3]
            assert session.dialogs == []
        finally:
            session.close()


def test_the_library_table_keeps_each_date_on_one_line(session: Session) -> None:
    """A date such as 2021-05-13 may break at its hyphens when the long titles beside it take the width."""
    session.page.set_viewport_size({"width": 1024, "height": 800})
    session.page.get_by_role("tab", name="文库").first.click()
    dates = session.page.locator("#letters-table td.rag-date")
    dates.first.wait_for()
    lines = dates.evaluate_all("""cells => cells.map(cell => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const tops = new Set([...range.getClientRects()].map(rect => Math.round(rect.top)));
        return [cell.textContent, tops.size];
    })""")
    assert lines and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) for text, _ in lines), lines
    assert all(count == 1 for _, count in lines), f"dates broken over several lines: {lines}"
