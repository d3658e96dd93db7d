"""Extractive summarizer: scores the sentences of a document from MiniLM sentence embeddings."""

from .configuration_extractive_summarizer import ExtractiveSummarizerConfig
from .modeling_extractive_summarizer import (
    ExtractiveSummarizerForSentenceExtraction,
    ExtractiveSummarizerPreTrainedModel,
)

__all__ = [
    "ExtractiveSummarizerConfig",
    "ExtractiveSummarizerForSentenceExtraction",
    "ExtractiveSummarizerPreTrainedModel",
]
