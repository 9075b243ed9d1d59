"""A letter's header and signature block: title, document number, agency, date, addressee, signer, contact.

Reads the layouts seen so far: a red-header letter (agency, 文号, title, addressee line ending in ：), a
government web page (labels such as 发布机构, 成文日期, 索引号, sometimes as table cells), and a signature
block (agency above the date) at the end. A field that is not there is ``None``. Dates are read by
:mod:`.dates`; the signer and contact by :mod:`.signature`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .chrome import LABELS, is_chrome
from .dates import DATE_LABELS, cell_date, labelled_date, standalone_date

# 渝卫函〔2024〕386号, 冀工信承字〔2023〕第187号, 提案(临公复)字(2025)第01号: an issuer's code, the year, the number
_DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fffA-Za-z]{1,12}(?:[(（][\u4e00-\u9fff]{1,6}[)）][\u4e00-\u9fff]{0,4})?"
    r"\s*[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*第?\s*\d{1,6}\s*号(?!\s*(?:提案|建议|议案))"
)
# a document number opening a line, before the title or the greeting it shares the line with
_DOC_NUMBER_LEAD = re.compile(r"^\s*(?:" + _DOC_NUMBER.pattern + r")\s*(?:——|—|-|:|：)?\s*")
_ORG_SUFFIX = re.compile(
    r"(?:局|委|厅|部|委员会|人民政府|政府|办公室|办公厅|办|中心|署|院|会|处|所|分局|街道办事处|管委会|公司|集团|海关|队|站"
    r"|馆|银行|支行)$"
)
_TITLE_WORDS = re.compile(r"(?:答复|复函|回复|会办意见|办理情况|答复函)")
_KIND = re.compile(r"(建议|提案|议案)")
_SESSION = re.compile(
    r"([\u4e00-\u9fff]{0,12}?(?:人大|政协|人民代表大会|政治协商会议)[\u4e00-\u9fff\d]{0,20}?会议)"
)
# 第200号 (建议), or a number without 第 that names the proposal after it (人大三次会议539号建议)
_NUMBER = re.compile(r"第\s*([\d\-－]+)\s*号\s*(?:建议|提案|议案)?|(?<![\d〔\[［【(（\-－])([\d\-－]+)\s*号\s*"
                     r"(?:代表|委员)?(?:建议|提案|议案)")
# the labels read as fields: the page-chrome labels, and a few of the page's other words, so that none is read as
# another label's value
_LABEL_WORDS = tuple(dict.fromkeys((*LABELS, "日期", "是否同意公开", "浏览次数", "字体", "会办")))
_LABEL_SET = frozenset(_LABEL_WORDS)
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



# the body's opening sentence, where the greeting is followed by the reply itself
_OPENING = re.compile(r"^(?:您好[，,。!！\s]*)?(?:您|你|贵)(?:们|单位|委|会|党|组)?"
                      r"(?:在|提出|所提|领衔|联名|的|对|关于)|收悉|(?:答复|回复|函复|复函)如下")
# a democratic party's or the federation of industry's committee ("民革某市委", "农工党省委会")
_PARTY = re.compile(r"(?:中国)?(?:民革|民盟|民建|民进|农工党|致公党|九三学社|台盟|工商联)")
# whom a reply greets: a deputy, a member, a group of them, a party committee or a sector group
_GREETED = re.compile(r"(?:代表|委员|代表团|委员会|委会|党|界别|小组|同志|先生|女士|支部|总支|工委"
                      r"|民盟|民建|民进|致公党|九三学社|台盟)$")
# a deputy or a member greeted on a line of its own without a colon: "岳林代表", "尊敬的张伟、李娜委员"
_BARE_GREETING = re.compile(r"(?:尊敬的)?[\u4e00-\u9fff]{2,4}(?:[、，,][\u4e00-\u9fff]{2,4}){0,5}(?:等\d+位)?"
                            r"(?:代表|委员)(?:您好|你好)?[，,！!]?")


def opens_body(text: str) -> bool:
    """Whether a line opens the reply itself ("您提出的…收悉", "你们在…会议上提出的…")."""
    return bool(_OPENING.search(text[:160]))


def _greeted(name: str) -> str | None:
    """The addressee a greeting names, without 尊敬的 and 您好, if it greets a deputy, a member or their group."""
    name = addressee(name) or ""
    if not 2 <= len(name) <= 60 or re.search(r"[。；;《》“”:：|]", name) or opens_body(name):
        return None
    return name if _GREETED.search(name) or _PARTY.match(name) else None


def _greeting(text: str) -> str | None:
    """The addressee greeted by a line: "尊敬的…代表：", "…委员您好:", "岳林代表" alone, or a greeting that opens a
    line running on into the reply ("浙林提〔2022〕41号 陈晓军委员: 您在…提出的…收悉")."""
    if _BARE_GREETING.fullmatch(text):
        return addressee(text)
    head, colon, rest = _DOC_NUMBER_LEAD.sub("", text).partition("：" if "：" in text else ":")
    if not colon:
        return None
    name = _greeted(head)
    rest = re.sub(r"^(?:您好|你好)[！!，,。\s]*", "", rest.strip())  # "尊敬的王伟代表：您好！"
    return name if name and (not rest or opens_body(rest)) else None


def opening_index(lines: list[Line], first_heading: int | None) -> int | None:
    """The line where the reply opens: its greeting, else its first sentence ("您提出的…收悉")."""
    greeting = addressee_index(lines, first_heading)
    if greeting is not None:
        return greeting
    limit = min(len(lines), 30, first_heading if first_heading is not None else 30)
    return next((i for i in range(limit) if not is_chrome(lines[i].text) and opens_body(lines[i].text)), None)


def addressee_index(lines: list[Line], first_heading: int | None) -> int | None:
    """The line greeting the addressee before the first numbered heading and the reply's first sentence.

    A greeting names a deputy, member or group ("尊敬的…代表：", "民建界别:", "岳林代表" alone); failing that, a
    short line ending in a colon that is no page chrome and no sentence ("区经委：" greeted by a bureau).
    """
    limit = min(len(lines), 30, first_heading if first_heading is not None else 30)
    lines = lines[:limit]
    for i, line in enumerate(lines):
        if is_chrome(line.text):
            continue
        if _greeting(line.text):
            return i
        if opens_body(line.text):
            limit = i
            break
    for i, line in enumerate(lines[:limit]):
        text = line.text
        if (len(text) <= 40 and text[-1] in ":：" and not is_chrome(text) and text.count(":") + text.count("：") == 1
                and "|" not in text and not _DOC_NUMBER.search(text) and not opens_body(text)
                and not any(w in text for w in _STOPWORD_ADDRESSEE)):
            return i
    return None


def addressee(line: str) -> str | None:
    """The name a greeting line holds: the text before its colon, without 尊敬的 and a trailing 您好."""
    name = _DOC_NUMBER_LEAD.sub("", line)
    name = re.split(r"[:：]", name, maxsplit=1)[0] if re.search(r"[:：]", name) else name
    name = name.strip(" \u3000，,！!").removeprefix("尊敬的").strip()
    for greeting in ("您好", "你好", "同志们"):
        name = name.removesuffix(greeting)
    return name.strip(" ，,") or None


def _label_pattern(label: str) -> re.Pattern[str]:
    spaced = r"\s*".join(map(re.escape, label))
    return re.compile(rf"{spaced}\s*[:：]\s*\|?\s*([^|\n]*?)\s*(?:\||\n|$|\s{{2,}}|\s(?=\S+\s*[:：]))")


@functools.cache
def _label_patterns() -> dict[str, re.Pattern[str]]:
    """Compiled on first use: a question, unlike a letter, is never parsed, and these take a tenth of a second."""
    return {label: _label_pattern(label) for label in _LABEL_WORDS}


@functools.cache
def _row_patterns() -> tuple[dict[str, re.Pattern[str]], re.Pattern[str]]:
    """A page's metadata row copied without its colons ("发布机构 规信处 文  号", "索 引 号 011043372/2021-28662
    发文日期 2021-06-21"): each label's pattern (a label, spaces, its value), and any label."""
    rows = {label: re.compile(r"(?<![\u4e00-\u9fff])" + r"\s*".join(map(re.escape, label)) + r"[ \t\u3000]+(\S+)")
            for label in _LABEL_WORDS if len(label) > 2}
    return rows, re.compile("|".join(r"\s*".join(map(re.escape, label)) for label in _LABEL_WORDS))


def labelled_fields(lines: list[Line]) -> dict[str, str]:
    """Values of web-page metadata labels such as ``发布机构: 市发展改革委`` or table cells; without colons on a line
    of two labels or more (a metadata row), or in the lines under such a row (a listing's columns)."""
    text = "\n".join(line.text for line in lines) + "\n"
    out: dict[str, str] = {}
    for label, pattern in _label_patterns().items():
        for match in pattern.finditer(text):
            before = text[match.start() - 1] if match.start() else "\n"
            if before in "成发生布" and label in ("日期", "名称"):
                continue  # "日期" inside "成文日期" etc. is handled by the longer label
            value = match.group(1).strip(" |")
            if value and not any(value.startswith(w) for w in _LABEL_WORDS):
                out.setdefault(label, value)
                break
    rows, any_label = _row_patterns()
    for i, line in enumerate(lines[:40]):
        for label, value in _table_cells(line.text).items():
            out.setdefault(label, value)
        if re.search(r"[:：，。；]", line.text) or len(any_label.findall(line.text)) < 2:
            continue
        for label, row in rows.items():
            found = row.search(line.text)
            value = found.group(1) if found else ""
            if value and not any_label.match(value) and not any(w.startswith(value) for w in _LABEL_WORDS):
                out.setdefault(label, value)
        for label, value in _column_cells(line.text, lines[i + 1:i + 4]).items():
            out.setdefault(label, value)
    return out


def _table_cells(row: str) -> dict[str, str]:
    """A table row's label cells and the value cell after each: "发文机关 | 市交通运输局 | 发布日期 | 2023-05-10 |"."""
    if not re.search("[|｜]", row):
        return {}
    cells = [re.sub(r"\s+", "", cell).strip("[]［］【】:：") for cell in re.split("[|｜]", row)]
    return {name: value for name, value in zip(cells, cells[1:], strict=False)
            if name in _LABEL_SET and value and value not in _LABEL_SET}


def _column_cells(row: str, below: list[Line]) -> dict[str, str]:
    """A listing's cells under its row of column names ("承办单位答复 答复日期 答复内容" / "农业厅" / "2013年8月13日"):
    an office goes to the office's column, a date to the date's, until a line that is neither."""
    columns = [re.sub("答复$", "", cell) for cell in row.split()]  # 承办单位答复: 承办单位's
    offices = [c for c in columns if "单位" in c]
    dates = [c for c in columns if "日期" in c]
    out: dict[str, str] = {}
    for line in below:
        value = re.sub(r"\s+", "", line.text)
        if is_org(value) and offices:
            out.setdefault(offices[0], value)
        elif standalone_date(value) and dates:
            out.setdefault(dates[0], value)
        else:
            break
    return out


def title_block(header: list[Line]) -> tuple[str, int, int] | None:
    """The letter's printed title and the lines it spans in ``header``, e.g. "对政协海南省第六届委员会" /
    "第一次会议委员第0051号提案的答复". A title names what it answers (关于…, 对…): such a line is preferred to
    a site's section name ("人大代表建议办理答复")."""
    found: list[tuple[str, int, int]] = []
    for i, line in enumerate(header):
        text = re.sub(r"\s+(?:" + _DOC_NUMBER.pattern + r")\s*$", "", line.text)  # its 文号 after it, on its line
        text = re.sub(r"(?<=[\u4e00-\u9fff])\s+|\s+(?=[\u4e00-\u9fff])", "", text)  # "提 案 的 答 复"
        if is_chrome(text) or len(text) > 80 or not _TITLE_WORDS.search(text) or not (
                _KIND.search(text) or "第" in text):
            continue
        previous = header[i - 1].text if i else ""
        if (re.search("关于|对", previous) and not re.match(r"关于|对", text) and not _TITLE_WORDS.search(previous)
                and not previous.endswith(("：", ":", "。")) and len(previous) <= 40 and not is_chrome(previous)):
            found.append((previous + text, i - 1, i))
        else:
            found.append((text, i, i))
    return next((t for t in found if re.search("关于|对", t[0])), found[0] if found else None)


def title_fields(
    header: list[Line], labelled: dict[str, str]
) -> tuple[str | None, str | None, str | None, str | None]:
    title = next((labelled[label] for label in ("名称", "标题", "公开事项名称") if labelled.get(label)), None)
    if title is not None:
        title = _DOC_NUMBER_LEAD.sub("", title) or None
    if title is None:
        block = title_block(header)
        title = block[0] if block else None
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
    """The letter's own 文号: its label's, else one in the header zone outside a cited title (《…》)."""
    candidates = [labelled.get("文号") or "", labelled.get("发文字号") or ""] + [line.text for line in header]
    for text in candidates:
        match = _DOC_NUMBER.search(text)
        if match and "《" not in text[: match.start()]:
            return re.sub(r"\s+", "", match.group(0)).removeprefix("文号")
    cut = (_CUT_DOC_NUMBER.match(line.text) for line in header)
    return next((match.group() for match in cut if match), None)


def is_org(text: str) -> bool:
    """Whether a text names an organisation: an office's suffix (局, 委, 厅 …), possibly followed by a second name
    in brackets ("市发改委(市粮储局)"), and no punctuation of a sentence."""
    core = re.sub(r"[(（][\u4e00-\u9fff]{2,14}[)）]$", "", text)
    return 2 < len(text) <= 30 and bool(_ORG_SUFFIX.search(core)) and not re.search(r"[，。；：:,]", text)


def org_name(value: str) -> str | None:
    """An organisation named by a page label, without its website's name (来源: 农业农村部网站), or None. An office
    inside the organisation (机关党委, 机关服务中心) is not the one replying."""
    name = re.sub(r"(?:门户)?(?:网站|官网)$", "", value)
    return name if is_org(name) and not name.startswith("机关") else None


# labels naming the office behind a page, the most specific first
_OFFICE_LABELS = ("发布机构", "发文机构", "发文机关", "所属机构", "制定机关", "发布单位", "主办单位", "承办单位",
                  "信息来源", "来源")


def agency(lines: list[Line], header: list[Line], labelled: dict[str, str], title: str | None,
           body_start: int | None = None) -> str | None:
    """The replying office as printed: the signature's, else the title's (“X局关于…”), else the letterhead by the
    title, else a page label's, else the office the body says it is ("结合区发展改革局职能")."""
    signature = _signature_org(lines, body_start)
    if signature:
        return signature
    if title:
        match = re.match(r"(.{2,30}?)(?:关于|对)", title)
        if match and is_org(match.group(1)):
            return match.group(1)
    letterhead = _letterhead(header)
    if letterhead:
        return letterhead
    for label in _OFFICE_LABELS:
        value = (labelled.get(label) or "").split()
        name = org_name(value[0].rstrip(";；")) if value else None
        if name:
            return name
    duties = _DUTIES.search("\n".join(line.text for line in lines[:12]))
    return duties.group(1) if duties and is_org(duties.group(1)) else None


def _letterhead(header: list[Line]) -> str | None:
    """An office printed as the letter's head: on the line under the title, or above it past its 文号 line."""
    block = title_block(header)
    if block is None:
        return None
    _, first, last = block
    around = [last + 1] + [i for i in range(first - 1, max(first - 4, -1), -1)]
    for i in around:
        if i >= len(header):
            continue
        if is_chrome(header[i].text):
            if i < first:
                break
            continue
        name = re.sub(r"\s+", "", header[i].text)
        if is_org(name):
            return name
        if i < first and not (_DOC_NUMBER.search(name) or len(name) <= 8):
            break  # a letterhead sits right above the title, or above its 文号 or a short mark ("(B类)")
    return None


# the replying office naming itself where the body opens: "结合区发展改革局职能，现将办理情况回复如下"
_DUTIES = re.compile(r"结合(?:我们|本)?([\u4e00-\u9fff]{3,20}?)(?:的)?(?:工作)?职(?:能|责)")


def _signature_zone(lines: list[Line], body_start: int | None) -> list[Line]:
    """The closing lines where a signature sits: the last 15 after the reply's opening, page chrome left out."""
    start = max(len(lines) - 15, (body_start + 1) if body_start is not None else 0)
    return [line for line in lines[start:] if not is_chrome(line.text)]


def _signature_org(lines: list[Line], body_start: int | None = None) -> str | None:
    """The organisation named on the line just above the closing date, or before it on its line."""
    zone = _signature_zone(lines, body_start)
    for i in range(len(zone) - 1, -1, -1):
        inline = re.fullmatch(r"(\S.{1,29}?)\s+\S[\S ]{5,16}", zone[i].text)
        if inline and not standalone_date(zone[i].text) and signature_date(zone[i].text):
            return re.sub(r"\s+", "", inline.group(1))  # "某市民政局 2021年6月30日"
        if standalone_date(zone[i].text):
            above = re.sub(r"\s+", "", zone[i - 1].text) if i > 0 else ""
            # or printed under its date, the contact beside it: "2022726" / "舞钢市教育体育局  联系电话:3303606"
            below = zone[i + 1].text.split()[0] if i + 1 < len(zone) else ""
            name = next((name for name in (above, below) if is_org(name)), None)
            if name:
                return name
    return None


def letter_date(lines: list[Line], labelled: dict[str, str], body_start: int | None = None) -> str | None:
    """The letter's own date: the signature's, else a 成文日期/制发日期/答复日期… label's.

    A label may be a table cell ("[ 成文日期 ] | 2023-07-26 |") or stand before its date without a colon
    ("发文日期 2021-06-21"); the signature's date may follow the agency on its line ("某市民政局 2021年6月30日").
    """
    head = "\n".join(line.text for line in lines[:12])
    zone = _signature_zone(lines, body_start)
    return (next(filter(None, (signature_date(line.text) for line in reversed(zone))), None)
            or labelled_date(labelled, DATE_LABELS) or cell_date(head, DATE_LABELS))


def signature_date(text: str) -> str | None:
    """The date of a signature line: the line is the date, or an organisation then the date."""
    date = standalone_date(text)
    if date is not None:
        return date
    match = re.fullmatch(r"(\S.{1,29}?)\s+(\S[\S ]{5,16})", text.strip())
    if match and is_org(re.sub(r"\s+", "", match.group(1))):
        return standalone_date(match.group(2))
    return None
