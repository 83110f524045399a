"""Where a study's candidate checkpoints live (``search_cli.run_dir_for``)."""

from __future__ import annotations

import pytest

from search.cli import main
from search.search_cli import DEFAULT_RUNS, run_dir_for
from search.train import CHECKPOINT_NAME
from tests.tiny_setup import TINY_DEVICE_YAML, TINY_SPACE_YAML


def test_two_storages_in_one_folder_with_one_study_name_get_their_own_folders(tmp_path) -> None:
    a = run_dir_for(f"journal:///{tmp_path}/quick.log", "s")
    b = run_dir_for(f"sqlite:///{tmp_path}/demo.db", "s")
    assert (a, b) == (tmp_path / "quick-s-candidates", tmp_path / "demo-s-candidates")
    assert run_dir_for(f"journal:///{tmp_path}/quick.log", "t") == tmp_path / "quick-t-candidates"


def test_the_default_layout_and_a_server_keep_their_names(tmp_path) -> None:
    assert run_dir_for(f"journal:///{tmp_path}/s/study.log", "s") == tmp_path / "s" / \
        "s-candidates"
    assert run_dir_for("postgresql://u@localhost/db", "s") == (DEFAULT_RUNS /
                                                                "s-candidates").resolve()


def test_a_study_made_before_keeps_its_folder(tmp_path) -> None:
    """A storage that already exists with only the older ``STUDY-candidates`` beside it is a
    study made before the stem entered the name: it keeps that folder (to resume, to select)."""
    (tmp_path / "old.log").write_text("")
    (tmp_path / "s-candidates").mkdir()
    assert run_dir_for(f"journal:///{tmp_path}/old.log", "s") == tmp_path / "s-candidates"
    # a new storage beside it does not adopt it
    assert run_dir_for(f"journal:///{tmp_path}/new.log", "s") == tmp_path / "new-s-candidates"
    # once the stem's folder exists, it is the one
    (tmp_path / "old-s-candidates").mkdir()
    assert run_dir_for(f"journal:///{tmp_path}/old.log", "s") == tmp_path / "old-s-candidates"


@pytest.mark.slow
def test_a_checkpoint_of_another_run_stops_the_search_with_what_a_search_user_can_do(
        tmp_path, capsys) -> None:
    """A study deleted and made again with other settings finds its nets' old checkpoints: the
    search stops with one line naming the folder and the options ``search`` has (not the
    trainer's ``--no-resume``), and the old checkpoint is kept."""
    (tmp_path / "dev.yaml").write_text(TINY_DEVICE_YAML)
    (tmp_path / "space.yaml").write_text(TINY_SPACE_YAML)
    storage = f"journal:///{tmp_path}/study.log"

    def search(steps: str) -> int:
        return main(["search", "--space", str(tmp_path / "space.yaml"), "--device",
                     str(tmp_path / "dev.yaml"), "--proxy", "demo", "--steps-per-trial", steps,
                     "--trials", "1", "--storage", storage, "--study", "s", "--quiet",
                     "--no-prune"])

    assert search("3") == 0
    (ckpt,) = (tmp_path / "s-candidates").rglob(CHECKPOINT_NAME)
    before = ckpt.read_bytes()
    (tmp_path / "study.log").unlink()
    capsys.readouterr()
    assert search("4") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert str(ckpt.parent) in err and "protocol" in err and "--study" in err
    assert "--no-resume" not in err
    assert ckpt.read_bytes() == before
