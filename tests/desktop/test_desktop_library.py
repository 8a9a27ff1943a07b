"""First run, indexing, search, detail edits and live folder watching, driven through the real window."""
from __future__ import annotations

import shutil

from PySide6.QtCore import Qt

from app.sample_library import write_lora
from common.settings import load_settings

INDEX_TIMEOUT_MS = 30_000
EMBED_TIMEOUT_MS = 120_000


def first_run(window, qtbot, folder):
    """What a person does on first start: add the folder, press "Index and start", wait for the library."""
    assert window.root.currentWidget() is window.welcome
    window.welcome.add_folder(str(folder))
    qtbot.mouseClick(window.welcome.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.root.currentWidget() is window.main_area, timeout=INDEX_TIMEOUT_MS)


def wait_for_search(window, qtbot):
    """Search by meaning is ready once the embeddings are (the first load of the model takes a while)."""
    qtbot.waitUntil(lambda: window.library.embeddings_ready, timeout=EMBED_TIMEOUT_MS)


def test_first_run_indexes_lists_and_remembers_the_folder(make_window, qtbot, library):
    root, files = library
    window = make_window()
    first_run(window, qtbot, root)
    page = window.library_page
    assert window.pages.currentWidget() is page
    assert sorted(page.visible_names()) == ["Luna moth", "Luna the husky", "Mochi the cat", "Rex the corgi",
                                            "Soft watercolor"]
    # the unreadable file is listed with its error, not in the grid
    assert page.broken.topLevelItemCount() == 1
    item = page.broken.topLevelItem(0)
    assert item.text(0) == "broken_download.safetensors" and item.toolTip(0) == str(files["broken"])
    assert item.text(1)  # the reason it could not be read
    assert page.broken_toggle.isVisible()
    # the folder is remembered and the next start skips the welcome page
    settings = load_settings()
    assert settings.folders == [str(root)] and settings.first_run_done
    wait_for_search(window, qtbot)
    window.shutdown()
    again = make_window()
    assert again.root.currentWidget() is again.main_area
    assert again.library_model.total() == 5


def test_search_box_filters_with_catalog_search(make_window, qtbot, library):
    root, _ = library
    window = make_window()
    first_run(window, qtbot, root)
    page = window.library_page
    wait_for_search(window, qtbot)
    qtbot.keyClicks(page.search, "corgi")
    qtbot.waitUntil(lambda: page.visible_names() == ["Rex the corgi"], timeout=20_000)
    assert page.count.text() == "1 of 5"
    page.search.clear()
    qtbot.waitUntil(lambda: len(page.visible_names()) == 5, timeout=5_000)
    qtbot.keyClicks(page.search, "zzzqqq")
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.empty, timeout=20_000)
    assert "Nothing matches" in page.empty.title.text()


def test_detail_edits_are_saved_as_user_edits(make_window, qtbot, library):
    root, files = library
    window = make_window()
    first_run(window, qtbot, root)
    page = window.library_page
    page.select_path(str(files["cat"]))
    detail = page.detail
    assert detail.name.text() == "Mochi the cat"
    assert detail.triggers.text().startswith("mochicat")
    detail.triggers.setText("grey mochi, mochicat")
    detail.description.setPlainText("Mochi asleep in the sun")
    detail.tags.setText("cat, pet")
    qtbot.mouseClick(detail.save_button, Qt.LeftButton)
    card = window.core.store.get(str(files["cat"]))
    assert card.canonical_trigger == "grey mochi"
    assert card.description == "Mochi asleep in the sun"
    assert card.tags == ["cat", "pet"]
    assert "Saved" in detail.saved_note.text()
    # and the edited words are searchable at once
    qtbot.keyClicks(page.search, "asleep")
    qtbot.waitUntil(lambda: page.visible_names() == ["Mochi the cat"], timeout=20_000)
    # "Use in a request" goes to Create with this checkpoint and its (edited) trigger
    qtbot.mouseClick(detail.use_button, Qt.LeftButton)
    assert window.pages.currentIndex() == 0 and window.request_panel.page() == "selected"
    assert window.create.selection.path == str(files["cat"]) and window.create.selection.trigger == "grey mochi"


def test_file_dropped_into_watched_folder_appears(make_window, qtbot, library, tmp_path):
    root, _ = library
    window = make_window()
    first_run(window, qtbot, root)
    assert window.watch_label.text() == "Watching 1 folder"
    staged = write_lora(tmp_path / "staging" / "pip_parrot.safetensors", "Pip the parrot", "pipbird", "parrot",
                        "A green parrot")
    shutil.move(str(staged), str(root / "Lora" / "pip_parrot.safetensors"))
    qtbot.waitUntil(lambda: "Pip the parrot" in window.library_page.visible_names(), timeout=20_000)
    (root / "Lora" / "mochi_cat.safetensors").unlink()
    qtbot.waitUntil(lambda: "Mochi the cat" not in window.library_page.visible_names(), timeout=20_000)


def test_demo_library_choice_indexes_the_demo_world_or_says_how_to_build_it(make_window, qtbot):
    window = make_window()
    qtbot.mouseClick(window.welcome.demo_button, Qt.LeftButton)
    try:
        world = window.core.demo_world()
    except FileNotFoundError:  # a checkout where the demo world has not been built
        assert window.root.currentWidget() is window.welcome
        assert window.welcome.banner.isVisible()
        assert "python -m demo.build" in window.welcome.banner.text.text()
        return
    qtbot.waitUntil(lambda: window.root.currentWidget() is window.main_area, timeout=INDEX_TIMEOUT_MS)
    assert window.settings.use_demo_library
    assert window.library_model.total() > 0
    assert all(c.path.startswith(str(world["library"])) for c in window.library_model.cards())


def test_after_search_is_ready_glossing_runs_and_a_missing_model_only_logs(make_window, qtbot, library, tmp_path, caplog):
    root, _ = library
    bad = tmp_path / "not_a_model.gguf"
    bad.write_bytes(b"not a gguf")
    window = make_window(use_llm=True)
    window.settings.llm_model = str(bad)
    first_run(window, qtbot, root)
    wait_for_search(window, qtbot)
    qtbot.waitUntil(lambda: window.library.gloss_worker is None, timeout=EMBED_TIMEOUT_MS)
    assert "cards not glossed" in caplog.text and "not_a_model.gguf" in caplog.text
    assert len(window.library_page.visible_names()) == 5 and "checkpoints in your library" in window.status_label.text()
