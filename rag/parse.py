"""Parse a reply letter's text into header metadata and a numbered section tree."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_SPACE = " \t\u3000\u00a0\u2002\u2003"
_CN_DIGITS = "一二三四五六七八九十百"

# Heading markers, from the outermost level inwards: 一、 › （一） › 1. › （1）
_HEADINGS = (
    (1, re.compile(rf"[{_CN_DIGITS}]{{1,3}}[、.．]")),
    (2, re.compile(rf"[（(][{_CN_DIGITS}]{{1,3}}[）)]")),
    (3, re.compile(r"\d{1,2}(?:[、．]|\.(?!\d))")),
    (4, re.compile(r"[（(]\d{1,2}[）)]")),
)
PREAMBLE = "开头"
CLOSING = "结尾"

_DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fffA-Za-z]{1,12}\s*[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*第?\s*\d{1,6}\s*号"
)
_ORG_SUFFIX = re.compile(
    r"(?:局|委|厅|部|委员会|人民政府|政府|办公室|办公厅|办|中心|署|院|会|处|所|分局|街道办事处|管委会|公司)$"
)
_DATE_NUM = re.compile(r"((?:19|20)\d{2})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?")
_DATE_CN = re.compile(r"([〇○零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日")
_TITLE_WORDS = re.compile(r"(?:答复|复函|回复|会办意见|办理情况|答复函)")
_KIND = re.compile(r"(建议|提案|议案)")
_SESSION = re.compile(
    r"([\u4e00-\u9fff]{0,12}?(?:人大|政协|人民代表大会|政治协商会议)[\u4e00-\u9fff\d]{0,20}?会议)"
)
_NUMBER = re.compile(r"第\s*([\d\-－]+)\s*号\s*(?:建议|提案|议案)?")
_LABEL_WORDS = ("索引号", "发布机构", "文号", "名称", "成文日期", "发文日期", "发布日期", "生成日期",
                "日期", "来源", "主题分类", "组配分类", "公开类型", "公开属性", "公开期限", "是否同意公开",
                "办理结果", "浏览次数", "发布时间", "字体")
_CLOSING_START = re.compile(r"(?:感谢|特此|此复|以上意见|以上答复|再次感谢|衷心感谢|专此|最后，?感谢|欢迎您|恳请)")
_STOPWORD_ADDRESSEE = ("日期", "来源", "发布", "索引", "文号", "名称", "分类", "主题", "时间", "联系", "抄送", "签发")


@dataclass(frozen=True)
class Section:
    """One numbered section; ``start``/``end`` are character offsets into the letter's text."""

    level: int
    marker: str
    title: str
    start: int
    end: int
    path: tuple[str, ...]
    labels: tuple[str, ...]

    @property
    def path_text(self) -> str:
        return " › ".join(self.path)

    @property
    def label(self) -> str:
        """Short numbering such as ``一（二）1``, used in citations."""
        return "".join(self.labels)


@dataclass(frozen=True)
class Letter:
    """A parsed reply letter: its full text, header metadata and section tree.

    Any field the letter does not state is ``None``.
    """

    letter_id: str
    path: str
    text: str
    sha256: str
    title: str | None = None
    doc_number: str | None = None
    agency: str | None = None
    date: str | None = None
    addressee: str | None = None
    session: str | None = None
    proposal_number: str | None = None
    kind: str | None = None
    signer: str | None = None
    contact: str | None = None
    sections: tuple[Section, ...] = ()
    paths: tuple[str, ...] = field(default=())

    @property
    def display_name(self) -> str:
        return self.doc_number or self.title or Path(self.path).stem

    def metadata(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in (
            "letter_id", "path", "title", "doc_number", "agency", "date", "addressee", "session",
            "proposal_number", "kind", "signer", "contact")}


@dataclass(frozen=True)
class _Line:
    start: int  # offset of the first non-blank character
    end: int  # offset just past the last non-blank character
    text: str


def _lines(text: str) -> list[_Line]:
    out = []
    pos = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            out.append(_Line(pos + lead, pos + lead + len(stripped), stripped))
        pos += len(raw) + 1
    return out


def parse_letter(text: str, *, letter_id: str, path: str = "", sha256: str = "") -> Letter:
    """Parse a letter's text. Never raises on odd input: unknown fields stay ``None``.

    Args:
        text: the letter text (line ends already normalised).
        letter_id: stable id for the letter.
        path: the file it came from.
        sha256: the text's content hash.

    Returns:
        The :class:`Letter`, whose sections cover the whole text in order.
    """
    lines = _lines(text)
    headings = _find_headings(lines)
    body_start = _addressee_index(lines, headings)
    header_end = body_start if body_start is not None else (
        headings[0][0] if headings else min(len(lines), 12))
    header = lines[:header_end + 1] if body_start is not None else lines[:header_end]
    labelled = _labelled_fields(lines[: max(header_end, 1) + 8])

    title, kind, session, number = _title(header, labelled)
    return Letter(
        letter_id=letter_id,
        path=path,
        text=text,
        sha256=sha256,
        title=title,
        doc_number=_doc_number(header, labelled),
        agency=_agency(lines, header, labelled, title),
        date=_date(lines, labelled),
        addressee=_addressee(lines[body_start].text) if body_start is not None else None,
        session=session,
        proposal_number=number,
        kind=kind,
        signer=_signer(text),
        contact=_contact(text),
        sections=_sections(text, lines, headings),
        paths=(path,) if path else (),
    )


def _find_headings(lines: list[_Line]) -> list[tuple[int, int, re.Match[str]]]:
    found = []
    for i, line in enumerate(lines):
        for level, pattern in _HEADINGS:
            match = pattern.match(line.text)
            if match and len(line.text) > match.end():
                found.append((i, level, match))
                break
    return found


def _addressee_index(lines: list[_Line], headings: list[tuple[int, int, re.Match[str]]]) -> int | None:
    limit = min(len(lines), 30, headings[0][0] if headings else 30)
    for i in range(limit):
        text = lines[i].text
        if len(text) <= 40 and text[-1] in ":：" and not any(w in text for w in _STOPWORD_ADDRESSEE):
            if "|" not in text and not _DOC_NUMBER.search(text):
                return i
    return None


def _addressee(line: str) -> str | None:
    name = line.rstrip(":： ").removeprefix("尊敬的").strip()
    for greeting in ("您好", "你好", "同志们"):
        name = name.removesuffix(greeting)
    return name.strip(" ，,") or None


def _label_pattern(label: str) -> re.Pattern[str]:
    spaced = r"\s*".join(map(re.escape, label))
    return re.compile(rf"{spaced}\s*[:：]\s*\|?\s*([^|\n]*?)\s*(?:\||\n|$|\s{{2,}}|\s(?=\S+\s*[:：]))")


_LABEL_PATTERNS = {label: _label_pattern(label) for label in _LABEL_WORDS}


def _labelled_fields(lines: list[_Line]) -> dict[str, str]:
    """Values of web-page metadata labels such as ``发布机构: 市发展改革委`` or table cells."""
    text = "\n".join(line.text for line in lines) + "\n"
    out: dict[str, str] = {}
    for label, pattern in _LABEL_PATTERNS.items():
        for match in pattern.finditer(text):
            before = text[match.start() - 1] if match.start() else "\n"
            if before in "成发生布" and label in ("日期", "名称"):
                continue  # "日期" inside "成文日期" etc. is handled by the longer label
            value = match.group(1).strip(" |")
            if value and not any(value.startswith(w) for w in _LABEL_WORDS):
                out.setdefault(label, value)
                break
    return out


def _title(
    header: list[_Line], labelled: dict[str, str]
) -> tuple[str | None, str | None, str | None, str | None]:
    title = labelled.get("名称")
    if title is None:
        for i, line in enumerate(header):
            text = line.text
            if _TITLE_WORDS.search(text) and (_KIND.search(text) or "第" in text) and len(text) <= 80:
                previous = header[i - 1].text if i else ""
                if (previous.startswith(("对", "关于")) and not text.startswith(("对", "关于"))
                        and not previous.endswith(("：", ":", "。")) and len(previous) <= 40):
                    text = previous + text
                title = text
                break
    if title is None:
        return None, None, None, None
    title = re.sub(r"\s+", "", title) if re.search(r"[\u4e00-\u9fff]\s+[\u4e00-\u9fff]", title) else title
    kind = _KIND.search(title)
    # the replying agency often leads the title ("XX局关于对…会议"): look after it
    session = _SESSION.search(re.sub(r"^.*?(?:关于对|关于|对)", "", title, count=1))
    number = _NUMBER.search(title)
    return (
        title,
        kind.group(1) if kind else None,
        session.group(1) if session else None,
        number.group(1) if number else None,
    )


def _doc_number(header: list[_Line], labelled: dict[str, str]) -> str | None:
    candidates = [labelled.get("文号") or ""] + [line.text for line in header]
    for text in candidates:
        match = _DOC_NUMBER.search(text)
        if match and "《" not in text[: match.start()]:
            return re.sub(r"\s+", "", match.group(0)).removeprefix("文号")
    return None


def _is_org(text: str) -> bool:
    return 2 < len(text) <= 30 and bool(_ORG_SUFFIX.search(text)) and not re.search(r"[，。；：:,]", text)


def _agency(lines: list[_Line], header: list[_Line], labelled: dict[str, str], title: str | None) -> str | None:
    """The replying agency: named before 关于 in the title, else the signature, else page labels."""
    if title:
        match = re.match(r"(.{2,30}?)(?:关于|对)", title)
        if match and _is_org(match.group(1)):
            return match.group(1)
    signature = _signature_org(lines)
    if signature:
        return signature
    if header and _is_org(header[0].text):
        return header[0].text
    for label in ("发布机构", "来源"):
        value = (labelled.get(label) or "").split()
        if value and _is_org(value[0]):
            return value[0]
    return None


def _signature_org(lines: list[_Line]) -> str | None:
    """The organisation named on the line just above the closing date."""
    for i in range(len(lines) - 1, max(len(lines) - 15, 0), -1):
        if _standalone_date(lines[i].text) and i > 0:
            candidate = re.sub(r"\s+", "", lines[i - 1].text)
            if _is_org(candidate):
                return candidate
    return None


def _standalone_date(text: str) -> str | None:
    compact = re.sub(r"\s+", "", text)
    match = _DATE_NUM.fullmatch(compact)
    if match:
        return _iso(*match.groups())
    match = _DATE_CN.fullmatch(compact)
    if match:
        return _iso(*(_cn_number(g) for g in match.groups()))
    return None


def _cn_number(text: str) -> str:
    digits = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"○": "0", "零": "0"}
    if len(text) == 4:
        return "".join(digits.get(c, c) for c in text)
    if text == "十":
        return "10"
    if text.startswith("十"):
        return "1" + digits[text[1]]
    if text.endswith("十"):
        return digits[text[0]] + "0"
    if "十" in text:
        return digits[text[0]] + digits[text[2]]
    return digits.get(text, text)


def _iso(year: str, month: str, day: str) -> str | None:
    y, m, d = int(year), int(month), int(day)
    if 1 <= m <= 12 and 1 <= d <= 31:
        return f"{y:04d}-{m:02d}-{d:02d}"
    return None


def _date(lines: list[_Line], labelled: dict[str, str]) -> str | None:
    """The letter's own date: a labelled 成文日期, else the signature date, else a page date."""
    return (
        _labelled_date(labelled, ("成文日期",))
        or next(filter(None, (_standalone_date(line.text) for line in reversed(lines[-15:]))), None)
        or _labelled_date(labelled, ("发文日期", "日期", "生成日期", "发布日期", "发布时间"))
    )


def _labelled_date(labelled: dict[str, str], labels: tuple[str, ...]) -> str | None:
    for label in labels:
        match = _DATE_NUM.search(labelled.get(label) or "")
        if match:
            return _iso(*match.groups())
    return None


def _signer(text: str) -> str | None:
    match = re.search(r"(?:签\s*发\s*人|领导签发|签\s*发)\s*[:：]\s*([^\s:：|]{2,12})", text)
    return match.group(1) if match else None


def _contact(text: str) -> str | None:
    match = re.search(r"联\s*系\s*人(?:及电话)?\s*[:：][ \t\u3000]*\n?[ \t\u3000]*([^\n]+)", text)
    if not match:
        phone = re.search(r"联系电话\s*[:：]\s*([\d\-－ ()（）]{5,})", text)
        return phone.group(1).strip() if phone else None
    contact = match.group(1).strip()
    phone = re.search(r"联系电话\s*[:：]\s*([\d\-－ ()（）]{5,})", text[match.end():match.end() + 200])
    if phone and phone.group(1).strip() not in contact:
        contact = f"{contact} {phone.group(1).strip()}"
    return contact


def _heading_title(line: str, marker_end: int) -> str:
    rest = line[marker_end:]
    cut = re.search(r"[。；;！？!?]", rest)
    head = (line[:marker_end] + (rest[: cut.start()] if cut else rest)).strip(_SPACE)
    if len(head) > 40:
        head = head[:39] + "…"
    return head


def _label(marker: str, level: int) -> str:
    core = marker.strip("、.．（）() ")
    if level in (2, 4):
        return f"（{core}）"
    if level == 3:
        return f"{core}."
    return core


def _sections(text: str, lines: list[_Line], headings: list[tuple[int, int, re.Match[str]]]) -> tuple[Section, ...]:
    """Sections in reading order, each spanning from its heading to the next heading.

    Text before the first heading is the preamble section; closing words and the signature
    after the last section form the closing section. Together they cover the whole text.
    """
    if not lines:
        return ()
    starts: list[tuple[int, int, str, str, str]] = []  # (offset, level, marker, title, label)
    for index, level, match in headings:
        line = lines[index]
        marker = match.group(0)
        starts.append((line.start, level, marker, _heading_title(line.text, match.end()), _label(marker, level)))
    closing = _closing_offset(lines, headings)
    out: list[Section] = []
    first = starts[0][0] if starts else (closing if closing is not None else len(text))
    if first > 0 and text[:first].strip():
        out.append(Section(0, "", PREAMBLE, 0, first, (PREAMBLE,), (PREAMBLE,)))
    stack: list[tuple[int, str, str]] = []  # (level, title, label)
    for i, (start, level, marker, title, label) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else (closing if closing is not None else len(text))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title, label))
        out.append(Section(level, marker, title, start, end,
                           tuple(t for _, t, _ in stack), tuple(lab for _, _, lab in stack)))
    if closing is not None and text[closing:].strip():
        out.append(Section(0, "", CLOSING, closing, len(text), (CLOSING,), (CLOSING,)))
    if out:  # stretch the first and last sections to the text's ends so nothing is uncovered
        out[0] = _with_span(out[0], 0, out[0].end)
        out[-1] = _with_span(out[-1], out[-1].start, len(text))
    return tuple(out)


def _with_span(section: Section, start: int, end: int) -> Section:
    return Section(section.level, section.marker, section.title, start, end, section.path, section.labels)


def _closing_offset(lines: list[_Line], headings: list[tuple[int, int, re.Match[str]]]) -> int | None:
    """Offset where the closing words / signature begin, after the last heading's first line."""
    if not headings:
        return None
    after = headings[-1][0] + 1
    for i in range(after, len(lines)):
        text = lines[i].text
        if _CLOSING_START.match(text) and len(text) <= 120:
            return lines[i].start
        if _standalone_date(text):
            j = i - 1 if i - 1 >= after and _is_org(re.sub(r"\s+", "", lines[i - 1].text)) else i
            return lines[j].start
    return None
