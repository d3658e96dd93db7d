from dataclasses import dataclass, field

import pytest

from geohub.errors import ConfigError
from geohub.training.arguments import parse_recipe, read_recipe


@dataclass
class ModelArgs:
    hidden_size: int = 8
    dropout: float = 0.1


@dataclass
class DataArgs:
    window_samples: int = 3000
    channels: list[str] = field(default_factory=lambda: ["E", "N", "Z"])


def write(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_yaml_then_cli_overrides(tmp_path):
    recipe = write(tmp_path, "task: x\nhidden_size: 16\nwindow_samples: 100\nchannels: [Z]\n")
    model, data = parse_recipe([ModelArgs, DataArgs], recipe, ["--hidden_size", "32"])
    assert model.hidden_size == 32  # the CLI wins
    assert data.window_samples == 100 and data.channels == ["Z"]
    assert model.dropout == 0.1  # untouched default


def test_unknown_key_names_key_file_line_and_suggestion(tmp_path):
    recipe = write(tmp_path, "task: x\nhidden_size: 16\nwindow_sampels: 100\n")
    with pytest.raises(ConfigError) as info:
        parse_recipe([ModelArgs, DataArgs], recipe)
    message = str(info.value)
    assert "window_sampels" in message and f"{recipe}:3" in message and "did you mean 'window_samples'" in message


def test_unknown_cli_option_is_an_error(tmp_path):
    recipe = write(tmp_path, "hidden_size: 16\n")
    with pytest.raises(ConfigError, match="hiden_size"):
        parse_recipe([ModelArgs, DataArgs], recipe, ["--hiden_size", "3"])


def test_bad_yaml_names_line(tmp_path):
    recipe = write(tmp_path, "a: 1\nb: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        read_recipe(recipe)
    assert str(recipe) in str(info.value) and "invalid YAML" in str(info.value)


def test_non_mapping_recipe_is_rejected(tmp_path):
    recipe = write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        read_recipe(recipe)
