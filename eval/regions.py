"""Region accuracy: ``python -m eval.regions --shared DIR [--expected eval/data/regions.tsv] [--json]``.

Parses each letter of ``DIR/real/letters`` and ``DIR/letters`` as ``Index.build`` does and compares its region
with the province the real corpus's ``letters.tsv`` gives and with the hand-checked provinces and cities of
``eval/data/regions.tsv``. A province counts as right when the names agree with or without their suffix
(``浙江`` is ``浙江省``); an empty expected province is right only when none is read.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag import Region, parse_letter, read_documents

EXPECTED = Path(__file__).parent / "data" / "regions.tsv"


def _same(read: str | None, expected: str) -> bool:
    """Whether a level read is the expected one, with or without its suffix; an empty expectation wants none."""
    return Region(read).within(expected) if read and expected else not read and not expected


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t"))


def regions(folder: Path) -> dict[str, Region]:
    """Each letter file under ``folder`` (by name) with the region its parse reads."""
    found = {}
    documents, _ = read_documents([folder])
    for document in documents:
        letter = parse_letter(document.text, letter_id=Path(document.path).stem, path=document.path)
        found[Path(document.path).name] = letter.region
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.regions", description=__doc__)
    parser.add_argument("--shared", type=Path, required=True, help="the folder holding real/ and letters/")
    parser.add_argument("--expected", type=Path, default=EXPECTED)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = accuracy(args.shared, args.expected)
    province_right, provinces = report["province"]["right"], report["province"]["letters"]
    city_right, cities = report["city"]["right"], report["city"]["letters"]
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(f"province {province_right}/{provinces} = {province_right / provinces:.3f}")
        print(f"city     {city_right}/{cities} = {city_right / cities:.3f}")
        for miss in report["misses"]:
            print(json.dumps(miss, ensure_ascii=False))
    return 0


def accuracy(shared: Path, expected: Path = EXPECTED) -> dict[str, Any]:
    """Province right among the letters of ``shared/real`` (its ``letters.tsv``) and those ``expected`` lists, city
    right among those ``expected`` lists (a hand-checked sample), and every letter read wrong."""
    read = {f"real/{name}": region for name, region in regions(shared / "real" / "letters").items()}
    read |= {f"letters/{name}": region for name, region in regions(shared / "letters").items()}
    provinces = {f"real/{row['file']}": row["province"] for row in _rows(shared / "real" / "letters.tsv")}
    cities: dict[str, str] = {}
    for row in _rows(expected):
        if row["file"].startswith("letters/"):
            provinces[row["file"]] = row["province"]
        cities[row["file"]] = row["city"]
    misses = []
    province_right = sum(_same(read[name].province, want) for name, want in provinces.items())
    city_right = sum(_same(read[name].city, want) for name, want in cities.items())
    for name, want in provinces.items():
        got = read[name]
        if not _same(got.province, want) or (name in cities and not _same(got.city, cities[name])):
            misses.append({"file": name, "province": want, "city": cities.get(name), "read": got.as_json()})
    return {"province": {"right": province_right, "letters": len(provinces)},
            "city": {"right": city_right, "letters": len(cities)}, "misses": misses}


if __name__ == "__main__":
    sys.exit(main())
