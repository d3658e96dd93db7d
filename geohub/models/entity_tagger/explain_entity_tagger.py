"""What `geohub.explain` explains for the entity tagger, a stock BERT token classifier (declared as `explain=` in
this family's `family.py`; the hook's contract is in `geohub.models.seismic_picker.explain_seismic_picker`): the
logit of label `k` at token `i` (`target=(i, k)`; default: the most confident non-special token), per token `(L,)`
(embedding dimensions summed; the baseline replaces every non-special token by [PAD])."""

from __future__ import annotations

import torch

from ...errors import ExplainError

FILE_READER = "entity"


def problem(model, batch, target, phase: str, tokenizer=None) -> dict:
    if not type(model).__name__.endswith("ForTokenClassification") or not hasattr(model, "get_input_embeddings"):
        raise ExplainError(f"no explanation recipe for {type(model).__name__}", field="model",
                           expected="a token classifier (the entity tagger)")  # fmt: skip
    input_ids = batch["input_ids"]
    mask = batch["attention_mask"] if "attention_mask" in batch else torch.ones_like(input_ids)
    types = {"token_type_ids": batch["token_type_ids"]} if "token_type_ids" in batch else {}
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask, **types).logits
    if target is None:
        probabilities = logits[0].softmax(-1)
        token = int(probabilities.max(-1).values[1:].argmax()) + 1
        label = int(probabilities[token].argmax())
    else:
        token, label = int(target[0]), int(target[1])
    pad = getattr(model.config, "pad_token_id", 0) or 0
    special = torch.zeros_like(input_ids, dtype=torch.bool)
    if tokenizer is not None:
        special = torch.tensor([tokenizer.get_special_tokens_mask(input_ids[0].tolist(), already_has_special_tokens=True)],
                               dtype=torch.bool)  # fmt: skip
    baseline_ids = torch.where(special, input_ids, torch.full_like(input_ids, pad))
    embedding_layer = model.get_input_embeddings()
    with torch.no_grad():
        embeddings, baseline = embedding_layer(input_ids), embedding_layer(baseline_ids)

    def logit(v):
        expanded = {k: t.expand(v.shape[0], -1) for k, t in types.items()}
        return model(inputs_embeds=v, attention_mask=mask.expand(v.shape[0], -1), **expanded).logits[:, token, label]

    tokens = tokenizer.convert_ids_to_tokens(input_ids[0].tolist()) if tokenizer is not None else None
    name = model.config.id2label.get(label, label)
    return {"forward": logit, "inputs": embeddings, "baseline": baseline, "target": f"logit of {name} at token {token}",
            "target_index": (token, label), "reduce": lambda a: a.sum(axis=-1)[0], "tokens": tokens}  # fmt: skip
