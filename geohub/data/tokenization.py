"""A sentencepiece domain tokenizer trained on geophysics text, saved as a `T5Tokenizer` (loads with
`AutoTokenizer.from_pretrained`), for models trained from scratch (e.g. a small T5 in tests).

    from geohub.data.tokenization import train_domain_tokenizer
    tokenizer = train_domain_tokenizer(texts, "my-tokenizer", vocab_size=2000)
    AutoTokenizer.from_pretrained("my-tokenizer")
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import CorpusError
from ..utils import atomic_directory, get_logger

__all__ = ["train_domain_tokenizer", "corpus_texts"]

logger = get_logger(__name__)


def corpus_texts(path: str | os.PathLike | None = None) -> list[str]:
    """Titles, abstracts and summaries of the embedded corpus (or a corpus file in its schema)."""
    from .corpus import CORPUS_PATH, read_corpus_records

    records = read_corpus_records(path or CORPUS_PATH)
    return [part for r in records for part in (r["title"], r["text"], r["summary"])]


def train_domain_tokenizer(
    texts: Iterable[str],
    output_dir: str | os.PathLike,
    *,
    vocab_size: int = 2000,
    model_type: str = "unigram",
    character_coverage: float = 1.0,
):
    """Train a sentencepiece model on `texts` and save it in `output_dir` as a T5 tokenizer (`</s>` = 1,
    `<pad>` = 0, `<unk>` = 2). Returns the `T5Tokenizer`.

    `vocab_size` is capped by what the text supports (sentencepiece's hard limit), with a warning.
    """
    import sentencepiece as spm
    from transformers import T5Tokenizer

    lines = [" ".join(t.split()) for t in texts if isinstance(t, str) and t.strip()]
    if not lines:
        raise CorpusError("no text to train a tokenizer on", field="texts", expected="non-empty strings")
    model = io.BytesIO()
    options = dict(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size, model_type=model_type,
        character_coverage=character_coverage, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        hard_vocab_limit=False, num_threads=1, minloglevel=2,
    )  # fmt: skip
    spm.SentencePieceTrainer.train(**options)
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = [(processor.id_to_piece(i), float(processor.get_score(i))) for i in range(processor.get_piece_size())]
    if len(vocab) < vocab_size:
        logger.warning(f"sentencepiece learned {len(vocab)} pieces (asked for {vocab_size}): the text is small")
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    output_dir = Path(output_dir)
    with atomic_directory(output_dir, last=("tokenizer_config.json",)) as tmp:
        tokenizer.save_pretrained(tmp)
        (tmp / "spiece.model").write_bytes(model.getvalue())
    return tokenizer
