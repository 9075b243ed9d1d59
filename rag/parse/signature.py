"""Who is named in a letter's signature block: its signer (or approver) and its contact person and phone."""

from __future__ import annotations

import re

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


__all__ = ["contact", "signer"]
