"""Extractive summarizer: scores the sentences of a document from MiniLM sentence embeddings."""

from geohub.lazy_imports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".configuration_extractive_summarizer": ["ExtractiveSummarizerConfig"],
        ".modeling_extractive_summarizer": [
            "ExtractiveSummarizerForSentenceExtraction",
            "ExtractiveSummarizerPreTrainedModel",
        ],
    },
)

__all__ = [
    "ExtractiveSummarizerConfig",
    "ExtractiveSummarizerForSentenceExtraction",
    "ExtractiveSummarizerPreTrainedModel",
]
