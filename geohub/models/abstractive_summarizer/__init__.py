"""Abstractive summarizer: transformers' `EncoderDecoderModel` (BERT2BERT from MiniLM), declared in `family.py`."""
