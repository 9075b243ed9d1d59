"""Update planning on its own: what is new, changed, unchanged, duplicate or removed, without stores or encoders."""

from __future__ import annotations

import hashlib

import pytest

from rag import Document
from rag.updates import choose_letter_id, plan_removal, plan_update

A_TEXT = "关于加快医疗器械产业发展的建议的答复\n一、加大支持\n对企业给予补助。"
B_TEXT = "关于养老服务的提案的答复\n一、养老\n新增床位500张。"


def document(path: str, text: str) -> Document:
    return Document(path, text, hashlib.sha256(text.encode()).hexdigest(), "utf-8")


def test_first_build_adds_every_letter_under_its_file_name():
    plan = plan_update({}, [document("/l/a.txt", A_TEXT), document("/l/b.txt", B_TEXT)])
    assert plan.added == ("a", "b") and list(plan.letters) == ["a", "b"]
    assert [letter.letter_id for letter in plan.fresh] == ["a", "b"]
    assert plan.retire == () and plan.removed == () and plan.unchanged == ()
    assert plan.letters["a"].paths == ("/l/a.txt",) and plan.letters["a"].text == A_TEXT


def test_reading_the_same_files_again_changes_nothing():
    first = plan_update({}, [document("/l/a.txt", A_TEXT)])
    again = plan_update(first.letters, [document("/l/a.txt", A_TEXT)])
    assert again.unchanged == ("a",) and again.fresh == () and again.retire == ()
    assert again.letters == first.letters


def test_a_changed_file_is_reparsed_under_the_same_id_and_its_old_chunks_retired():
    first = plan_update({}, [document("/l/a.txt", A_TEXT), document("/l/b.txt", B_TEXT)])
    changed = plan_update(first.letters, [document("/l/a.txt", A_TEXT + "\n二、补充\n另有奖励。")])
    assert changed.updated == ("a",) and changed.added == () and changed.retire == ("a",)
    assert [letter.letter_id for letter in changed.fresh] == ["a"] and "另有奖励" in changed.letters["a"].text
    assert set(changed.letters) == {"a", "b"}


def test_the_same_text_under_another_name_is_a_second_path_of_one_letter():
    first = plan_update({}, [document("/l/a.txt", A_TEXT)])
    copy = plan_update(first.letters, [document("/m/copy-of-a.txt", A_TEXT)])
    assert copy.duplicates == (("/m/copy-of-a.txt", "a"),) and copy.fresh == ()
    assert copy.letters["a"].paths == ("/l/a.txt", "/m/copy-of-a.txt")


def test_same_file_name_in_two_folders_gets_two_ids():
    plan = plan_update({}, [document("/l/a.txt", A_TEXT), document("/m/a.txt", B_TEXT)])
    second = f"a-{hashlib.sha256(B_TEXT.encode()).hexdigest()[:8]}"
    assert plan.added == ("a", second)


def test_replace_all_drops_letters_not_read_again():
    first = plan_update({}, [document("/l/a.txt", A_TEXT), document("/l/b.txt", B_TEXT)])
    rebuilt = plan_update(first.letters, [document("/l/b.txt", B_TEXT)], replace_all=True)
    assert rebuilt.removed == ("a",) and set(rebuilt.retire) == {"a", "b"} and list(rebuilt.letters) == ["b"]


def test_removal_by_id_path_or_file_name_and_unknown_names_refused():
    letters = plan_update({}, [document("/l/a.txt", A_TEXT), document("/l/b.txt", B_TEXT)]).letters
    assert plan_removal(letters, ["a"]).removed == ("a",)
    assert plan_removal(letters, ["/l/b.txt"]).removed == ("b",)
    assert plan_removal(letters, ["b.txt", "b"]).removed == ("b",)
    assert list(plan_removal(letters, ["a"]).letters) == ["b"]
    with pytest.raises(KeyError, match="no letter 'c.txt'"):
        plan_removal(letters, ["a", "c.txt"])


def test_letter_ids_keep_their_old_id_and_avoid_taken_ones():
    assert choose_letter_id("/l/a.txt", "ab" * 32, taken=set()) == "a"
    assert choose_letter_id("/l/a.txt", "ab" * 32, taken={"a"}) == "a-abababab"
    assert choose_letter_id("/l/renamed.txt", "ab" * 32, taken={"a"}, prefer="x") == "x"
