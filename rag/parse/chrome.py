"""Page chrome: the lines a government web page puts around a letter (widgets, navigation, metadata labels).

A harvested page carries its site's furniture: share and font-size widgets, view counters, breadcrumbs,
banners, and the metadata table (索引号, 发布机构, 提案者 …). None of it is the letter, so no field is ever read
from such a line as if it were the letter's own text; metadata labels are read as labels (``labelled_fields``).
"""

from __future__ import annotations

import re

# Widgets, counters, navigation and banners, matched on the line with its blanks removed
_WIDGETS = re.compile("|".join((
    r"^分享|分享(?:到|至)[:：]?|分享$",
    r"(?<!老)字号[:：\[【]|【字号|字号[:：]?[大中小]|字号$",
    r"字体[:：\[【]|【字体|字体大小|字体[大中小]|字体$",
    r"相关(?:文章|解读|文件|链接|新闻|阅读|信息)",
    r"(?:阅读|浏览|点击|访问)(?:人次|次数|数|量)[:：]?",
    r"(?:作者|编辑|责任编辑|审核|校对|摄影)[:：]",
    r"(?:^|[【\[|])打印(?:本页|此页|文章|正文)?(?:$|[】\]|])",
    r"关闭(?:窗口|本页)|^关闭$|^【关闭】|收藏(?:本页|本站)?$|^详细查看$",
    r"关键(?:词|字)[:：]?|(?:有效|时效)性[:：]?|^标题[:：]?$|标题[:：]",
    r"欢迎(?:访问|来到|光临)|今天是|星期[一二三四五六日天]",
    r"(?:当前|所在|现在|您的)(?:的)?位置|首页[>＞›»/]|>>>",
    r"无障碍|长者模式|关怀版|适老化|扫一扫|二维码|网站地图|网站标识码|ICP备|公网安备|版权所有|主办[:：]",
    r"(?:文件|附件)下载|关联文件|政策咨询|上一篇|下一篇|返回(?:顶部|首页|列表)|[【\[]?[大中小]{3}[】\]]?$",
)))
# Metadata labels of a page's table or list: a label opening the line or a cell, then a colon, a bar or a blank
LABELS = tuple("""
    索引号 发布机构 发文机构 发文机关 发布单位 所属机构 制定机关 责任部门 发布日期 发布时间 发表时间 公布日期
    成文日期 生成日期 公文生成日期 制发日期 答复日期 答复时间 发文日期 施行日期 交办日期 来源 信息来源 主题分类 主题词
    公文目录 组配分类 公开类型 公开方式 公开属性 公开期限 公开范围 是否有效 效力属性 效力等级 文号 发文字号 标题
    名称 公开事项名称 提案者 提案人 领衔代表 代表团 案由 题目 承办单位及答复 承办单位答复 承办单位 主办单位
    会办单位 答复内容 办理结果 分类 复文分类 文章属性 信息分类 体裁分类 发布人 签发人""".split())
_LABEL = re.compile(r"[【\[]?(?:" + "|".join(r"\s*".join(map(re.escape, label)) for label in sorted(
    LABELS, key=len, reverse=True)) + r")\s*[】\]]?\s*(?:[:：|]|\s|$)")
_BULLET = re.compile(r"^[•·\-]\s*")


def is_chrome(text: str) -> bool:
    """Whether a line is page chrome: a widget, counter, breadcrumb or banner, or a metadata label's line.

    A line holding a full stop is a sentence of the letter, never chrome.

    Example:
        >>> is_chrome("浏览次数: 发表时间:2025-07-17 10:44 信息来源:霍山县卫健委  字体:[  ]"), is_chrome("李鑫委员:")
        (True, False)
    """
    if "。" in text:
        return False
    squashed = re.sub(r"\s+", "", text)
    return bool(_WIDGETS.search(squashed) or _LABEL.match(_BULLET.sub("", text.strip())))
