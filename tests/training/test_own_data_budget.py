"""The own-data recipe's training budget: the wall-time callback stops training (evaluating and saving first), and
early stopping without validation is refused with the fields to set."""

from __future__ import annotations

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from geohub.errors import ConfigError
from geohub.training.text import ExtractionModelArguments, TimeBudgetCallback, budget_callbacks


def test_time_budget_stops_training_and_asks_for_a_last_evaluation(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), eval_strategy="epoch", save_strategy="epoch", report_to="none")
    clock = iter([100.0, 130.0, 161.0])  # the callback's own clock: patching time.monotonic would reach every thread
    callback = TimeBudgetCallback(minutes=1.0, clock=lambda: next(clock))
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(args, state, control)
    callback.on_step_end(args, state, control)  # 30 s in: keep going
    assert not control.should_training_stop
    callback.on_step_end(args, state, control)  # 61 s in: stop, evaluate and save this step
    assert control.should_training_stop and control.should_evaluate and control.should_save


def test_budget_callbacks_follow_the_recipe(tmp_path):
    evaluating = TrainingArguments(output_dir=str(tmp_path), eval_strategy="epoch", save_strategy="epoch",
                                   load_best_model_at_end=True, metric_for_best_model="f1", report_to="none")  # fmt: skip
    names = [type(c).__name__ for c in budget_callbacks(
        ExtractionModelArguments(early_stopping_patience=2, max_train_minutes=15), evaluating)]  # fmt: skip
    assert names == ["EarlyStoppingCallback", "TimeBudgetCallback"]
    assert budget_callbacks(ExtractionModelArguments(), evaluating) == []
    plain = TrainingArguments(output_dir=str(tmp_path), eval_strategy="no", report_to="none")
    with pytest.raises(ConfigError, match="early_stopping_patience"):
        budget_callbacks(ExtractionModelArguments(early_stopping_patience=2), plain)
