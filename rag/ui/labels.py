"""Every string of the web UI's interface, in Chinese and English, side by side."""

from __future__ import annotations

from rag.answer import Note
from rag.ingest import SUPPORTED_SUFFIXES
from rag.ingest.ocr import IMAGE_SUFFIXES

LANGUAGES = ("zh", "en")
# what the upload button names: every suffix the readers take, so the label cannot fall behind them
_DOCUMENTS = " ".join(sorted(SUPPORTED_SUFFIXES - IMAGE_SUFFIXES))
_SCANS = " ".join(sorted(IMAGE_SUFFIXES))

# key: (中文, English). One row per string, so a label cannot exist in one language only.
_ROWS: dict[str, tuple[str, str]] = {
    # the page and its controls
    "heading": ("## policy-rag · 答复函问答\n用中文或英文提问，回答附带可点击的引用；点击引用查看原文。",
                "## policy-rag · Ask the reply letters\nAsk in Chinese or English; answers cite the letters. "
                "Click a citation to open the letter."),
    "ask_tab": ("提问", "Ask"),
    "library_tab": ("文库", "Library"),
    "compare_tab": ("对比", "Compare"),
    "compare_question": ("要对比的问题", "Question to compare across letters"),
    "compare_run": ("对比", "Compare"),
    "compare_csv": ("下载 CSV", "Download CSV"),
    "compare_empty": ("没有信件给出可对比的措施。", "No letter states a measure to compare."),
    "compare_mentioned": ("另有 {n} 封信件仅提及该主题。", "{n} more letters only mention the topic."),
    "compare_chart": ("各地区措施数", "Measures by region"),
    "rate": ("比例", "Rate"),
    "quote": ("原文", "Quote"),
    "chat": ("对话", "Conversation"),
    "question": ("问题", "Question"),
    "placeholder": ("例如：二类医疗器械注册有哪些补助？（可追问：那三类呢？）",
                    "e.g. subsidies for Class II devices? (then: Class III?)"),
    "send": ("发送", "Send"),
    "examples": ("示例问题（点击即问）：", "Example questions (click to ask):"),
    "export": ("导出 Markdown", "Download as Markdown"),
    "clear": ("清空对话", "Clear conversation"),
    "settings": ("筛选与设置", "Filters and settings"),
    "year_from": ("起始年份", "From year"),
    "year_to": ("截止年份", "To year"),
    "letters": ("只在这些信件中检索", "Only these letters"),
    "k": ("段落数", "Passages"),
    "upload": (f"上传信件（{_DOCUMENTS}，扫描件 {_SCANS}）", f"Upload letters ({_DOCUMENTS}; scans {_SCANS})"),
    "remove_pick": ("要移除的信件", "Letter to remove"),
    "remove": ("移除信件", "Remove letter"),
    "uploading": ("正在建立索引", "Indexing"),
    "ocr_page": ("正在识别扫描件 {name}：第 {done}/{total} 页",
                 "Reading the scan {name} (OCR): page {done} of {total}"),
    "remove_confirm": ("从索引中移除这封信件？此操作不可撤销：",
                       "Remove this letter from the index? This cannot be undone: "),
    "nothing_removed": ("请先选择要移除的信件。", "Choose a letter to remove first."),
    "stale": ("这封信已从文库中移除。", "This letter was removed from the library."),
    # a letter's metadata
    "doc_number": ("文号", "Document No."),
    "agency": ("机关", "Agency"),
    "region": ("地区", "Region"),
    "date": ("日期", "Date"),
    "section": ("章节", "Section"),
    "title": ("标题", "Title"),
    "addressee": ("收件人", "Addressee"),
    "signer": ("签发人", "Signed by"),
    "session": ("会议", "Session"),
    "proposal_number": ("建议/提案号", "Proposal No."),
    "kind": ("类型", "Kind"),
    "contact": ("联系人", "Contact"),
    "phone": ("联系电话", "Phone"),
    "file": ("文件", "File"),
    "letter_id": ("编号", "ID"),
    # replies and cited passages
    "open": ("查看原文", "Open letter"),
    "passages": ("没有生成回答，以下是与问题最相关的段落：",
                 "No answer was composed; these passages match the question best:"),
    "abstained": ("没有找到能回答这个问题的内容。最接近的段落（不是答案）：",
                  "The letters do not answer this. Closest passages (not an answer):"),
    "closest": ("最接近的段落，但不是答案", "Closest, but not an answer"),
    "closest_list": ("最接近的段落（不是答案）", "Closest passages (not an answer)"),
    "declined": ("现有答复函未涉及该问题。", "The indexed letters do not address this."),
    "cited": ("引用", "Cited"),
    "empty": ("没有找到相关段落。请换个问法或放宽筛选条件。",
              "No passage matched. Try other words or widen the filters."),
    "filtered": ("筛选条件排除了所有答复函，没有可检索的内容。请放宽或清除筛选条件（机构、年份、答复函）。",
                 "The filters exclude every letter: nothing was searched. Widen or clear the filters (agency, years, "
                 "letters)."),
    "searched_as": ("按此检索：", "Searched as: "),
    "confidence": ("可信度", "Confidence"),
    "support": ("支持措施", "Support measures"),
    "what": ("内容", "What"),
    "amount": ("金额", "Amount"),
    "cap": ("上限", "Cap"),
    "condition": ("条件", "Condition"),
    "source": ("出处", "Source"),
    "notes": ("说明", "Notes"),
    "no_letter": ("请点击引用查看原文。", "Click a citation to open the letter."),
    "no_evidence": ("提问后，引用的段落会显示在这里。", "Cited passages appear here."),
    "error": ("无法检索：", "Cannot search: "),
    "writing": ("正在生成…", "Writing…"),
    # the library
    "letters_empty": ("文库里还没有信件。", "No letters in the library yet."),
    "added": ("已添加", "Added"),
    "updated": ("已更新", "Updated"),
    "unchanged": ("未改变", "Unchanged"),
    "duplicates": ("重复（已收录）", "Duplicate (already indexed)"),
    "rejected": ("未收录", "Not indexed"),
    "removed": ("已移除", "Removed"),
    "summary": ("文库：{letters} 封信，{chunks} 个段落", "Library: {letters} letters, {chunks} passages"),
    # the Markdown export
    "answer": ("回答", "Answer"),
    "citations": ("引用", "Citations"),
    "exported": ("导出时间", "Exported"),
    "conversation": ("policy-rag 对话记录", "policy-rag conversation"),
    "passage": ("段落", "Passage"),
}

LABELS: dict[str, dict[str, str]] = {
    language: {key: row[column] for key, row in _ROWS.items()} for column, language in enumerate(LANGUAGES)
}


def t(lang: str, key: str) -> str:
    """The interface text ``key`` in ``lang`` (``zh`` or ``en``; anything else falls back to ``zh``).

    Raises:
        KeyError: ``key`` is not in the table.
    """
    return LABELS.get(lang, LABELS["zh"])[key]


# an answer's notes (rag.answer.Note) in Chinese; in English they read as str(note)
_NOTES_ZH = {
    "no_passage": "没有匹配的段落",
    "absent_words": "问题中{0}%的词在所有来信中都没有出现",
    "unplaced": "找到的来信都没有提到{places}",
    "missing_kind": "找到的来信没有写明问题所问的{kind}",
    "too_weak_for_model": "证据太弱，未询问语言模型",
}
_KINDS_ZH = {"phone": "电话号码", "duration": "期限", "rate": "比例", "amount": "金额", "date": "日期",
             "count": "数量", "unit": "部门或单位"}


def note_text(lang: str, note: Note | str) -> str:
    """An answer's note in ``lang``: a :class:`~rag.answer.Note` worded from the table, its values (places) as the
    user wrote them; a free sentence (a language model's dropped claim) as it is."""
    if isinstance(note, str) or lang == "en" or note.kind not in _NOTES_ZH:
        return str(note)
    kind = _KINDS_ZH.get(note.values[0], note.values[0]) if note.values else ""
    return _NOTES_ZH[note.kind].format(*note.values, places="、".join(note.values), kind=kind)


__all__ = ["LABELS", "LANGUAGES", "note_text", "t"]
