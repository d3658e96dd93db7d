import json


def test_env_json_reports_versions_devices_and_paths(geohub_cli):
    result = geohub_cli("env", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["packages"]["transformers"].startswith("5.")
    assert info["packages"]["torch"]
    assert info["devices"]["cpu_threads"] >= 1
    assert info["offline"]["HF_HUB_OFFLINE"] is True  # conftest runs the suite offline
    assert info["paths"]["HF_HOME"]


def test_env_table_is_readable(geohub_cli):
    result = geohub_cli("env")
    assert result.returncode == 0, result.stderr
    assert "packages:" in result.stdout and "devices:" in result.stdout and "paths:" in result.stdout


def test_help_lists_only_working_commands(geohub_cli):
    result = geohub_cli("--help")
    assert result.returncode == 0
    assert "not implemented" not in result.stdout.lower()


def test_train_rejects_missing_recipe(geohub_cli, tmp_path):
    result = geohub_cli("train", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr and "not found" in result.stderr


def test_train_rejects_unknown_task(geohub_cli, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("# a recipe\ntask: no_such_task\n")
    result = geohub_cli("train", str(recipe))
    assert result.returncode == 2
    assert "r.yaml:2" in result.stderr and "unknown task 'no_such_task'" in result.stderr
