"""The extractive summarizer's example inputs for `geohub export` (declared as `export=ExportDecl(example=...)` in
this family's `family.py`): the sentences `(B, S, L)`; with document features also the lexical `sentence_features`
`(B, S, F)` and the title (`title_input_ids`/`title_attention_mask` `(B, Lt)`, `title_mask` `(B,)`), as `summarize`
passes them. torch.export is tried first: TorchScript tracing bakes nn.MultiheadAttention's reshapes to the traced
sizes."""

from __future__ import annotations

import torch

#: the dynamic axes of those inputs (`ExportDecl.dynamic_axes`)
DYNAMIC_AXES = {"input_ids": {0: "batch", 1: "sentences", 2: "tokens"},
                "attention_mask": {0: "batch", 1: "sentences", 2: "tokens"},
                "sentence_features": {0: "batch", 1: "sentences"},
                "title_input_ids": {0: "batch", 1: "title_tokens"},
                "title_attention_mask": {0: "batch", 1: "title_tokens"},
                "title_mask": {0: "batch"}}  # fmt: skip


def example_inputs(model, check: bool, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Batch 2 of 4 sentences of 12 tokens (traced), or batch 3 of 5 sentences of 9 tokens (`check`), with an absent
    sentence, a short one and a document without a title."""
    config = model.config
    vocab = int(getattr(getattr(model, "encoder", None), "config", config).vocab_size)
    use_features = bool(getattr(config, "use_features", False))
    lexical = int(getattr(config, "num_lexical_features", 0)) if use_features else 0
    size = (3, 5, 9) if check else (2, 4, 12)
    target = {"input_ids": torch.randint(5, vocab, size, generator=generator)}
    mask = torch.ones(size, dtype=torch.long)
    mask[0, -1] = 0  # an absent sentence
    mask[1, 0, size[2] // 2 :] = 0  # a short sentence
    target["attention_mask"] = mask
    if lexical:
        target["sentence_features"] = torch.rand(size[0], size[1], lexical, generator=generator)
    if use_features:
        target["title_input_ids"] = torch.randint(5, vocab, (size[0], size[2] - 2), generator=generator)
        target["title_attention_mask"] = torch.ones(size[0], size[2] - 2, dtype=torch.long)
        target["title_mask"] = torch.ones(size[0], dtype=torch.long)
        target["title_mask"][-1] = 0  # a document without a title
    return target
