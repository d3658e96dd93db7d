"""Entity tagger: a MiniLM (BERT) token classifier for geoscience entities, declared in `family.py`."""
