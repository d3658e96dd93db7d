"""`geohub train --output_dir DIR`: a non-empty DIR that is not this task's run is refused before any work (one line
naming the folder and the flag), unless `--overwrite` / `--overwrite_output_dir`; the run's own folder resumes.

Issue #21: "convert and every other writer refuse a non-empty target unless --overwrite"; before this check a
training run wrote its checkpoints and model over whatever DIR held.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geohub.cli import main
from geohub.errors import ConfigError, GeohubError
from geohub.training.launch import main as launch_main
from geohub.training.launch import run_recipe
from geohub.training.output_dir import RUN_MARKER, check_output_dir

REPO = Path(__file__).resolve().parents[2]
MAGNITUDE = """\
task: seismic_magnitude
conv_channels: "4,8"
lstm_hidden_size: 6
dataset: synthetic
num_train_windows: 16
num_eval_windows: 8
window_length: 1000
max_steps: 2
per_device_train_batch_size: 8
per_device_eval_batch_size: 8
save_strategy: steps
save_steps: 2
eval_strategy: "no"
report_to: none
disable_tqdm: true
resume_from_checkpoint: last
"""


@pytest.fixture
def magnitude_recipe(tmp_path):
    path = tmp_path / "magnitude.yaml"
    path.write_text(MAGNITUDE)
    return path


@pytest.fixture
def user_folder(tmp_path):
    """A folder holding someone's own files (a finished model of another project, say)."""
    folder = tmp_path / "my_model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"precious")
    (folder / "notes.txt").write_text("keep me")
    return folder


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def _untouched(folder) -> bool:
    return sorted(p.name for p in folder.iterdir()) == ["model.safetensors", "notes.txt"] and (
        (folder / "model.safetensors").read_bytes() == b"precious"
    )


def test_train_refuses_a_non_empty_output_dir_in_one_line(capsys, magnitude_recipe, user_folder):
    for dry in (["--dry-run"], []):  # refused at --dry-run too, and before any process starts
        code, out, err = _cli(capsys, "train", str(magnitude_recipe), "--output_dir", str(user_folder), *dry)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith("geohub: error: ") and str(user_folder) in lines[0] and "--overwrite" in lines[0]
        assert "accelerate launch" not in out
        assert _untouched(user_folder)


def test_overwrite_flags_pass_the_check_and_dry_run_writes_nothing(capsys, magnitude_recipe, user_folder):
    for flag in ("--overwrite", "--overwrite_output_dir", "--overwrite-output-dir"):
        code, out, err = _cli(capsys, "train", str(magnitude_recipe), "--output_dir", str(user_folder), flag,
                              "--dry-run")  # fmt: skip
        assert code in (0, None) and "accelerate launch" in out, err
        assert "--overwrite" not in out  # the flag is geohub's, not a recipe field passed to the processes
        assert _untouched(user_folder)


def test_a_run_refuses_a_foreign_folder_before_any_work_and_resumes_its_own(tmp_path, magnitude_recipe, user_folder):
    # the entry point `accelerate launch` runs (every process) checks too: refused before a model or data is built
    with pytest.raises(ConfigError, match="--overwrite") as err:
        run_recipe(str(magnitude_recipe), ["--output_dir", str(user_folder)])
    assert str(user_folder) in str(err.value) and _untouched(user_folder)
    assert launch_main(["--config", str(magnitude_recipe), "--output_dir", str(user_folder)]) == 2
    assert _untouched(user_folder)

    # a fresh folder: the run marks it as its own, trains and checkpoints
    out = tmp_path / "run"
    run_recipe(str(magnitude_recipe), ["--output_dir", str(out)])
    assert json.loads((out / RUN_MARKER).read_text()) == {"task": "seismic_magnitude"}
    assert (out / "checkpoint-2").is_dir() and (out / "model.safetensors").is_file()
    # the same task again into its own folder: resumes from checkpoint-2 and goes on to step 4
    run_recipe(str(magnitude_recipe), ["--output_dir", str(out), "--max_steps", "4", "--save_steps", "4"])
    assert (out / "checkpoint-4").is_dir()
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4

    # another task into this run's folder: refused, naming the task that owns it
    other = tmp_path / "picker.yaml"
    other.write_text("task: seismic_picking\ndataset: synthetic\n")
    with pytest.raises(ConfigError, match="task 'seismic_magnitude'"):
        run_recipe(str(other), ["--output_dir", str(out)])


def test_overwrite_trains_into_a_foreign_folder_without_resuming_its_checkpoints(tmp_path, magnitude_recipe):
    folder = tmp_path / "other_run"
    (folder / "checkpoint-99").mkdir(parents=True)  # another run's checkpoint that `last` would otherwise resume
    (folder / "checkpoint-99" / "trainer_state.json").write_text("{}")
    (folder / RUN_MARKER).write_text(json.dumps({"task": "terrain_gan"}))
    (folder / "notes.txt").write_text("left alone")
    with pytest.raises(ConfigError, match="terrain_gan"):
        run_recipe(str(magnitude_recipe), ["--output_dir", str(folder)])
    assert launch_main(["--config", str(magnitude_recipe), "--output_dir", str(folder), "--overwrite_output_dir"]) == 0
    assert not (folder / "checkpoint-99").exists() and (folder / "checkpoint-2").is_dir()
    assert (folder / "notes.txt").read_text() == "left alone"
    assert json.loads((folder / RUN_MARKER).read_text()) == {"task": "seismic_magnitude"}


def test_the_gan_loop_is_checked_too(tmp_path, user_folder):
    with pytest.raises(ConfigError, match="--overwrite"):
        run_recipe(str(REPO / "recipes/terrain_gan/config_tiny.yaml"), ["--output_dir", str(user_folder)])
    assert _untouched(user_folder)


def test_what_counts_as_this_tasks_folder(tmp_path):
    assert check_output_dir(tmp_path / "missing", "seismic_magnitude", overwrite=False) == "new"
    (tmp_path / "empty").mkdir()
    assert check_output_dir(tmp_path / "empty", "seismic_magnitude", overwrite=False) == "new"
    legacy = tmp_path / "legacy"  # a run from before the marker: checkpoints and no marker, still resumes
    (legacy / "checkpoint-3").mkdir(parents=True)
    assert check_output_dir(legacy, "seismic_magnitude", overwrite=False) == "own"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / RUN_MARKER).write_text("{not json")
    with pytest.raises(ConfigError, match="output_dir is not empty"):
        check_output_dir(broken, "seismic_magnitude", overwrite=False)
    assert check_output_dir(broken, "seismic_magnitude", overwrite=True) == "foreign"
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        check_output_dir(a_file, "seismic_magnitude", overwrite=True)


def test_a_failed_run_leaves_no_stray_folder(tmp_path, capfd):
    """The marker is written before the run; a run that fails before writing anything takes it (and the folders it
    created) back: `geohub train` and the launch entry point."""
    recipe = tmp_path / "picker.yaml"
    recipe.write_text(f"task: seismic_picking\ndataset: phasenet\ndataset_dir: {tmp_path / 'nope'}\n")
    nested = tmp_path / "runs" / "new" / "out"
    with pytest.raises(GeohubError, match="nope"):
        run_recipe(str(recipe), ["--output_dir", str(nested)])
    assert not (tmp_path / "runs").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(recipe), "--output_dir", str(empty), "--config_file",
              str(REPO / "recipes/accelerate_configs/cpu.yaml")])  # fmt: skip
    assert exit_.value.code != 0 and "nope" in capfd.readouterr().err  # the launched process's one line
    assert empty.is_dir() and not any(empty.iterdir())
    with pytest.raises(SystemExit):  # a new folder: created for the run, removed after its failure
        main(["train", str(recipe), "--output_dir", str(nested), "--config_file",
              str(REPO / "recipes/accelerate_configs/cpu.yaml")])  # fmt: skip
    assert not (tmp_path / "runs").exists()
