"""Tokenizer calls that are safe when threads share one tokenizer (the demo serves concurrent requests with one
loaded model and tokenizer).

A fast tokenizer keeps its padding and truncation settings on the shared Rust object: each call sets them
(`set_truncation_and_padding`) and then encodes with the Rust code released from the GIL, so a call in another
thread can change them in between (issue 20: a batch padded to another request's length, or not padded at all:
`expected sequence of length 29 at dim 1 (got 28)`). Every geohub call of a tokenizer at inference time holds that
tokenizer's lock: `tokenize(tokenizer, ...)` for a plain call, `with tokenizer_lock(tokenizer):` around code that
tokenizes several times (the processors of the extractive summarizer and the relation classifier).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ["tokenize", "tokenizer_lock"]

_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_by_id: dict[int, threading.RLock] = {}  # tokenizers that cannot be weakly referenced or hashed
_guard = threading.Lock()


def tokenizer_lock(tokenizer: Any) -> threading.RLock:
    """The one (re-entrant) lock of `tokenizer`, made on first use."""
    with _guard:
        try:
            lock = _locks.get(tokenizer)
            if lock is None:
                lock = _locks[tokenizer] = threading.RLock()
        except TypeError:
            lock = _by_id.setdefault(id(tokenizer), threading.RLock())
    return lock


def tokenize(tokenizer: Any, *args, **kwargs):
    """`tokenizer(*args, **kwargs)` while holding the tokenizer's lock."""
    with tokenizer_lock(tokenizer):
        return tokenizer(*args, **kwargs)
