"""Caches of files notice a changed, added or removed file: every process picks up an edited form, rubric or
grade scale without a restart (profiles kept in the database are cached by their content)."""

from __future__ import annotations

import os
import shutil

from bot import reloading
from bot.flows import form as forms


def test_a_changed_added_or_removed_file_is_read_again(tmp_path):
    calls = []

    @reloading.reloading(lambda: tmp_path.glob("*.yaml"), interval=0)
    def read() -> list[str]:
        calls.append(1)
        return sorted(p.read_text() for p in tmp_path.glob("*.yaml"))

    (tmp_path / "a.yaml").write_text("one")
    assert read() == ["one"] and read() == ["one"] and len(calls) == 1  # unchanged: cached
    (tmp_path / "a.yaml").write_text("two!")
    assert read() == ["two!"]
    (tmp_path / "b.yaml").write_text("three")
    assert read() == ["three", "two!"]
    (tmp_path / "b.yaml").unlink()
    assert read() == ["two!"] and len(calls) == 4


def test_an_edited_form_is_seen_without_a_restart(tmp_path):
    folder = tmp_path / "forms"
    shutil.copytree(forms.FORMS_DIR, folder)
    before = {key: f.title for key, f in forms._registry(folder).items()}
    key = next(iter(before))
    path = next(p for p in folder.glob("*.yaml") if f"id: {key[0]}" in p.read_text(encoding="utf-8"))
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"title: {before[key]}", "title: 新标题", 1), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    import time

    time.sleep(1.05)  # the check runs at most once a second
    assert forms._registry(folder)[key].title == "新标题"
