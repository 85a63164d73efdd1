"""Evaluating checkpoints: the protocol as data (`protocol.py`), one checkpoint evaluated with it
(`evaluate.py`), the index cache that encodes every stored image at most once
(`index_cache.py`), DCI started early on its planned draws (`early_dci.py`), the training-time
MIG (`training_mig.py`) and the allocator setting the entry points make (`allocator.py`)."""
