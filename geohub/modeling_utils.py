"""`GeoPreTrainedModel`: the base class of every geohub model.

It adds to transformers' `PreTrainedModel`:
- a contract checked when a subclass is defined (`config_class`, `base_model_prefix`, `main_input_name`,
  `_no_split_modules` must be declared), so a model that forgets one fails at import, not at save time;
- one `_init_weights` for the layer types geohub uses (convolutions, linear, LSTM, norms);
- `save_pretrained` that writes into a temporary folder and publishes it with renames, so an interrupted save
  never leaves a folder that loads as a valid model (see `geohub.utils.atomic_directory`), with a sha256
  manifest of the weights (`geohub_checksums.json`) that `from_pretrained` checks, together with the safetensors
  structure, before loading a local folder: a truncated or corrupt file is an error naming it.
"""

from __future__ import annotations

import math
import os

from torch import nn
from transformers import PreTrainedModel

from .utils import atomic_directory, check_weights, write_weight_checksums

__all__ = ["GeoPreTrainedModel"]

_REQUIRED_ATTRIBUTES = ("config_class", "base_model_prefix", "main_input_name", "_no_split_modules")


class GeoPreTrainedModel(PreTrainedModel):
    """Base class for geohub's models (seismic, terrain, text heads).

    Subclasses must set `config_class`, `base_model_prefix`, `main_input_name` and `_no_split_modules`
    (the block classes FSDP may wrap whole), and call `self.post_init()` at the end of `__init__`.
    """

    base_model_prefix = "geohub"
    main_input_name = "inputs"
    _no_split_modules: list[str] | None = None
    supports_gradient_checkpointing = False
    # geohub losses are means over the local batch, not sums to be divided by a global `num_items_in_batch`.
    # Declaring this keeps Trainer from multiplying the loss by the number of processes (which it does for
    # models whose `forward` takes `**kwargs`), so 1-process and N-process runs take the same steps.
    accepts_loss_kwargs = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("_"):
            return
        missing = [name for name in _REQUIRED_ATTRIBUTES if name not in _declared(cls)]
        if missing:
            raise TypeError(
                f"{cls.__module__}.{cls.__name__} must declare {', '.join(missing)} "
                "(geohub's model contract, see geohub/modeling_utils.py)"
            )
        if not cls._no_split_modules:
            raise TypeError(f"{cls.__name__}._no_split_modules must name at least one block class for FSDP")

    def _init_weights(self, module: nn.Module) -> None:
        """Kaiming-normal for convolutions, truncated normal for linear layers, orthogonal LSTM weights."""
        std = getattr(self.config, "initializer_range", 0.02)
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.LSTM, nn.GRU)):
            for name, param in module.named_parameters():
                if "weight_hh" in name:
                    nn.init.orthogonal_(param)
                elif "weight_ih" in name:
                    nn.init.xavier_uniform_(param)
                elif "bias" in name:
                    nn.init.zeros_(param)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)):
            if getattr(module, "weight", None) is not None:
                nn.init.ones_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std / math.sqrt(1.0))

    def save_pretrained(self, save_directory: str | os.PathLike, *args, push_to_hub: bool = False, **kwargs):
        """`PreTrainedModel.save_pretrained`, written to a temporary folder first and then renamed into place.

        With `push_to_hub=True` the folder is saved locally (atomically) and then uploaded as one Hub commit
        by `PushToHubMixin.push_to_hub` (`repo_id` defaults to the folder name).
        """
        if not kwargs.get("is_main_process", True):
            return super().save_pretrained(save_directory, *args, **kwargs)
        hub_kwargs = {}
        if push_to_hub:
            for key in ("repo_id", "token", "private", "commit_message", "revision", "create_pr"):
                if key in kwargs:
                    hub_kwargs[key] = kwargs.pop(key)
        with atomic_directory(save_directory) as tmp:
            result = super().save_pretrained(tmp, *args, **kwargs)
            write_weight_checksums(tmp)
        if push_to_hub:
            repo_id = hub_kwargs.pop("repo_id", None) or os.path.basename(os.path.abspath(save_directory))
            return self.push_to_hub(repo_id, **hub_kwargs)
        return result

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """`PreTrainedModel.from_pretrained`; a local folder's weights are checked first (`geohub.utils.check_weights`:
        safetensors structure, and the sha256 manifest written at save time), so a truncated or corrupt file raises
        `CorruptWeightsError` naming it instead of failing inside safetensors or loading silently."""
        if pretrained_model_name_or_path is not None and os.path.isdir(pretrained_model_name_or_path):
            check_weights(os.path.join(pretrained_model_name_or_path, kwargs.get("subfolder") or ""))
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)


def _declared(cls: type) -> set[str]:
    """Attribute names declared by `cls` or any base below `GeoPreTrainedModel` in its MRO."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is GeoPreTrainedModel:
            break
        names.update(vars(klass))
    return names
