"""Freeze a dev/test split of a letters corpus laid out like ``../shared/real`` (letters.tsv + gold.jsonl).

Half the letters of each province go to test with their questions; the unanswerable questions (no letter)
alternate within each language. Among 1,000 such draws the one most even between dev and test on the
questions' language, the medical topics and the printed fields is kept. The split is written once and
committed before any tuning; it is never re-drawn.
``python -m eval.split_real ../shared/real eval/data/real/split.tsv``
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import Counter, defaultdict
from pathlib import Path

MEDICAL_TOPICS = frozenset({"医疗卫生", "药品", "医保", "医疗器械"})
FIELDS = ("doc_number", "agency", "date", "addressee")


def _draw(letters: list[dict[str, str]], rng: random.Random) -> dict[str, str]:
    by_province: dict[str, list[str]] = defaultdict(list)
    for row in letters:
        by_province[row["province"]].append(row["file"])
    sides: dict[str, str] = {}
    odd = rng.randrange(2)
    for province in sorted(by_province):
        files = sorted(by_province[province])
        rng.shuffle(files)
        half = len(files) // 2 + (len(files) % 2) * odd
        odd ^= len(files) % 2
        for i, name in enumerate(files):
            sides[name] = "test" if i < half else "dev"
    return sides


def _imbalance(sides: dict[str, str], letters: list[dict[str, str]], lang: dict[str, str]) -> int:
    groups: list[list[str]] = [
        [r["file"] for r in letters if r["topic"] in MEDICAL_TOPICS],
        [r["file"] for r in letters if lang.get(r["file"]) == "en"],
        *([r["file"] for r in letters if r[field]] for field in FIELDS),
    ]
    total = 0
    for group in groups:
        count = Counter(sides[name] for name in group)
        total += abs(count["dev"] - count["test"])
    return total


def split(corpus: Path, draws: int = 1000, seed: int = 0) -> list[tuple[str, str, str]]:
    """Rows ``(kind, id, split)``: kind ``letter`` (file name) or ``question`` (an unanswerable question's id)."""
    with (corpus / "letters.tsv").open(encoding="utf-8") as f:
        letters = list(csv.DictReader(f, delimiter="\t"))
    questions = [json.loads(line) for line in (corpus / "gold.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    lang = {q["letter"] + ".txt": q["lang"] for q in questions if q.get("letter")}
    rng = random.Random(seed)
    best = min((_draw(letters, rng) for _ in range(draws)), key=lambda s: _imbalance(s, letters, lang))
    rows = [("letter", r["file"], best[r["file"]]) for r in letters]
    toggle = {"zh": 0, "en": 1}
    for q in questions:
        if not q.get("letter"):
            rows.append(("question", q["id"], ("dev", "test")[toggle[q["lang"]]]))
            toggle[q["lang"]] ^= 1
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Freeze a dev/test split of a letters corpus.")
    parser.add_argument("corpus", type=Path, help="a folder with letters.tsv and gold.jsonl")
    parser.add_argument("out", type=Path, help="the split file to write (kind, id, split)")
    args = parser.parse_args(argv)
    with args.out.open("w", encoding="utf-8", newline="") as f:
        f.write("kind\tid\tsplit\n")
        for row in split(args.corpus):
            f.write("\t".join(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
