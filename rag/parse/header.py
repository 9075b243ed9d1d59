"""A letter's header and signature block: title, document number, agency, date, addressee, signer, contact.

Reads the layouts seen so far: a red-header letter (agency, 文号, title, addressee line ending in ：), a
government web page (labels such as 发布机构, 成文日期, 索引号, sometimes as table cells), and a signature
block (agency above the date) at the end. A field that is not there is ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
# 第200号 (建议), or a number without 第 that names the proposal after it (人大三次会议539号建议)
_NUMBER = re.compile(r"第\s*([\d\-－]+)\s*号\s*(?:建议|提案|议案)?|(?<![\d〔\[［【(（\-－])([\d\-－]+)\s*号\s*"
                     r"(?:代表|委员)?(?:建议|提案|议案)")
_LABEL_WORDS = ("索引号", "发布机构", "文号", "名称", "成文日期", "发文日期", "发布日期", "生成日期",
                "日期", "来源", "主题分类", "组配分类", "公开类型", "公开属性", "公开期限", "是否同意公开",
                "办理结果", "浏览次数", "发布时间", "字体")
_STOPWORD_ADDRESSEE = ("日期", "来源", "发布", "索引", "文号", "名称", "分类", "主题", "时间", "联系", "抄送", "签发")


@dataclass(frozen=True)
class Line:
    start: int  # offset of the first non-blank character
    end: int  # offset just past the last non-blank character
    text: str


def split_lines(text: str) -> list[Line]:
    out = []
    pos = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            out.append(Line(pos + lead, pos + lead + len(stripped), stripped))
        pos += len(raw) + 1
    return out



# a deputy or a member greeted on a line of its own without a colon: "岳林代表", "尊敬的张伟、李娜委员"
_BARE_GREETING = re.compile(r"(?:尊敬的)?[\u4e00-\u9fff]{2,4}(?:[、，,][\u4e00-\u9fff]{2,4}){0,5}(?:等\d+位)?"
                            r"(?:代表|委员)(?:您好|你好)?[，,！!]?")


def addressee_index(lines: list[Line], first_heading: int | None) -> int | None:
    """The line greeting the addressee ("尊敬的…代表：") before the first numbered heading, if any; a deputy or a
    member may be greeted without the colon ("岳林代表" alone on its line)."""
    limit = min(len(lines), 30, first_heading if first_heading is not None else 30)
    for i in range(limit):
        text = lines[i].text
        if len(text) <= 40 and text[-1] in ":：" and not any(w in text for w in _STOPWORD_ADDRESSEE):
            if "|" not in text and not _DOC_NUMBER.search(text):
                return i
        if _BARE_GREETING.fullmatch(text):
            return i
    return None


def addressee(line: str) -> str | None:
    name = line.rstrip(":：，,！! ").removeprefix("尊敬的").strip()
    for greeting in ("您好", "你好", "同志们"):
        name = name.removesuffix(greeting)
    return name.strip(" ，,") or None


def _label_pattern(label: str) -> re.Pattern[str]:
    spaced = r"\s*".join(map(re.escape, label))
    return re.compile(rf"{spaced}\s*[:：]\s*\|?\s*([^|\n]*?)\s*(?:\||\n|$|\s{{2,}}|\s(?=\S+\s*[:：]))")


_LABEL_PATTERNS = {label: _label_pattern(label) for label in _LABEL_WORDS}
# a page's metadata row copied without its colons ("发布机构 规信处 文  号", "索 引 号 011043372/2021-28662 发文日期
# 2021-06-21"): a label, spaces, its value
_ROW_PATTERNS = {label: re.compile(r"(?<![\u4e00-\u9fff])" + r"\s*".join(map(re.escape, label)) + r"[ \t\u3000]+(\S+)")
                 for label in _LABEL_WORDS if len(label) > 2}
_ROW_LABELS = re.compile("|".join(r"\s*".join(map(re.escape, label)) for label in _LABEL_WORDS))


def labelled_fields(lines: list[Line]) -> dict[str, str]:
    """Values of web-page metadata labels such as ``发布机构: 市发展改革委`` or table cells; without colons on a line
    of two labels or more (a metadata row)."""
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
    for line in lines[:40]:
        if re.search(r"[:：，。；]", line.text) or len(_ROW_LABELS.findall(line.text)) < 2:
            continue
        for label, row in _ROW_PATTERNS.items():
            found = row.search(line.text)
            value = found.group(1) if found else ""
            if value and not _ROW_LABELS.match(value) and not any(w.startswith(value) for w in _LABEL_WORDS):
                out.setdefault(label, value)
    return out


def title_fields(
    header: list[Line], labelled: dict[str, str]
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
        (number.group(1) or number.group(2)) if number else None,
    )


# a document number whose closing bracket and 号 were lost in copying ("舞教〔2022106"), opening its line
_CUT_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,12}[〔\[［【]\s*(?:19|20)\d{2}\d{1,4}(?![\d〕\]］】])")


def doc_number(header: list[Line], labelled: dict[str, str]) -> str | None:
    candidates = [labelled.get("文号") or ""] + [line.text for line in header]
    for text in candidates:
        match = _DOC_NUMBER.search(text)
        if match and "《" not in text[: match.start()]:
            return re.sub(r"\s+", "", match.group(0)).removeprefix("文号")
    cut = (_CUT_DOC_NUMBER.match(line.text) for line in header)
    return next((match.group() for match in cut if match), None)


def is_org(text: str) -> bool:
    return 2 < len(text) <= 30 and bool(_ORG_SUFFIX.search(text)) and not re.search(r"[，。；：:,]", text)


def org_name(value: str) -> str | None:
    """An organisation named by a page label, without its website's name (来源: 农业农村部网站), or None."""
    name = re.sub(r"(?:门户)?(?:网站|官网)$", "", value)
    return name if is_org(name) else None


def agency(lines: list[Line], header: list[Line], labelled: dict[str, str], title: str | None) -> str | None:
    """The replying agency: named before 关于 in the title, else the signature, else page labels."""
    if title:
        match = re.match(r"(.{2,30}?)(?:关于|对)", title)
        if match and is_org(match.group(1)):
            return match.group(1)
    signature = _signature_org(lines)
    if signature:
        return signature
    if header and is_org(header[0].text):
        return header[0].text
    for label in ("发布机构", "来源"):
        value = (labelled.get(label) or "").split()
        name = org_name(value[0]) if value else None
        if name:
            return name
    duties = _DUTIES.search("\n".join(line.text for line in lines[:12]))
    return duties.group(1) if duties and is_org(duties.group(1)) else None


# the replying office naming itself where the body opens: "结合区发展改革局职能，现将办理情况回复如下"
_DUTIES = re.compile(r"结合(?:我们|本)?([\u4e00-\u9fff]{3,20}?)(?:的)?(?:工作)?职(?:能|责)")


def _signature_org(lines: list[Line]) -> str | None:
    """The organisation named on the line just above the closing date."""
    for i in range(len(lines) - 1, max(len(lines) - 15, 0), -1):
        inline = re.fullmatch(r"(\S.{1,29}?)\s+\S[\S ]{7,16}", lines[i].text)
        if inline and not standalone_date(lines[i].text) and signature_date(lines[i].text):
            return re.sub(r"\s+", "", inline.group(1))  # "某市民政局 2021年6月30日"
        if standalone_date(lines[i].text) and i > 0:
            candidate = re.sub(r"\s+", "", lines[i - 1].text)
            if is_org(candidate):
                return candidate
    return None


def standalone_date(text: str) -> str | None:
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


def letter_date(lines: list[Line], labelled: dict[str, str]) -> str | None:
    """The letter's own date: a labelled 成文日期, else the signature date, else a page date.

    A label may be a table cell ("[ 成文日期 ] | 2023-07-26 |") or stand before its date without a colon
    ("发文日期 2021-06-21"); the signature's date may follow the agency on its line ("某市民政局 2021年6月30日").
    """
    head = "\n".join(line.text for line in lines[:12])
    return (
        _labelled_date(labelled, ("成文日期",)) or _cell_date(head, ("成文日期",))
        or next(filter(None, (signature_date(line.text) for line in reversed(lines[-15:]))), None)
        or _labelled_date(labelled, ("发文日期", "日期", "生成日期", "发布日期", "发布时间"))
        or _cell_date(head, ("发文日期", "生成日期", "发布日期", "发布时间"))
    )


def signature_date(text: str) -> str | None:
    """The date of a signature line: the line is the date, or an organisation then the date."""
    date = standalone_date(text)
    if date is not None:
        return date
    match = re.fullmatch(r"(\S.{1,29}?)\s+(\S[\S ]{7,16})", text.strip())
    if match and is_org(re.sub(r"\s+", "", match.group(1))):
        return standalone_date(match.group(2))
    return None


def _cell_date(head: str, labels: tuple[str, ...]) -> str | None:
    """A date right after one of ``labels`` with no colon between: a table cell or a space."""
    for label in labels:
        spaced = r"\s*".join(map(re.escape, label))
        match = re.search(spaced + r"[\s\]］】|:：]*" + _DATE_NUM.pattern, head)
        if match:
            return _iso(*match.groups()[-3:])
    return None


def _labelled_date(labelled: dict[str, str], labels: tuple[str, ...]) -> str | None:
    for label in labels:
        match = _DATE_NUM.search(labelled.get(label) or "")
        if match:
            return _iso(*match.groups())
    return None


# the approver named in the closing ("以上答复意见已经我局杨军局长审定", "本答复经张明主任审签"): a name, then a title
_APPROVED = re.compile(r"(?:已经|已由|经|由)(?:我局|我委|我厅|我办|我部|本局|本委|局|委)?(?:主要领导)?"
                       r"([\u4e00-\u9fff]{2,3}?)(?:副?(?:局长|主任|厅长|部长|书记|区长|县长|市长|镇长|院长|处长))"
                       r"(?:同志)?(?:审定|审签|审核|签发|签批|审阅)")
_NO_NAME = ("分管", "主管", "主要", "党组", "相关", "有关", "常务", "执行", "领导")  # 经分管副局长审定 names nobody


def signer(text: str) -> str | None:
    """Who signed the letter: its 签发人 label, else the official the closing says approved it."""
    match = re.search(r"(?:签\s*发\s*人|领导签发|签\s*发)\s*[:：]\s*([^\s:：|]{2,12})", text)
    if match:
        return match.group(1)
    approved = _APPROVED.search(text)
    return approved.group(1) if approved and not approved.group(1).startswith(_NO_NAME) else None


_CONTACT_LABEL = re.compile(r"联\s*系\s*人(?:姓名|及电话)?\s*[:：][ \t\u3000]*\n?[ \t\u3000]*")
_NAME = re.compile(r"[\u4e00-\u9fff](?:[ \u3000]?[\u4e00-\u9fff]){1,4}")
_PHONE_LABEL = re.compile(r"(?:联系电话|联系方式|电话|手机)\s*[:：]\s*")
_PHONE = re.compile(r"(?:[(（]\d{3,4}[)）]\s*)?\d[\d\-－]{4,}\d")
_NOT_NAME = re.compile(r"联系|电话|手机|地址|邮编|邮政")


def contact(text: str) -> tuple[str | None, str | None]:
    """The contact person's name and phone number from the signature block, each ``None`` when not stated.

    Handles one line or two (``联系人：孙恺`` / ``联系电话：63990807``), both on one line in either order
    (``（联系人:王浪,联系电话:66223882）``), and a name followed by its number (``梁 沛 0311-87801895``; the
    space that pads a two-character name is dropped).
    """
    label = _CONTACT_LABEL.search(text)
    name = None
    if label:
        found = _NAME.match(text, label.end())
        if found:
            name = re.sub(r"[ \u3000]", "", _NOT_NAME.split(found.group())[0])
            name = name if len(name) >= 2 else None
    near = text[max(label.start() - 80, 0):label.end() + 200] if label else text
    phone = next((m for m in (_PHONE.match(near, p.end()) for p in _PHONE_LABEL.finditer(near)) if m), None)
    if phone is None and label:  # "联系人及电话：梁 沛 0311-87801895"
        line = text[label.end():].split("\n", 1)[0]
        phone = _PHONE.search(line)
    return name, phone.group().strip() if phone else None

