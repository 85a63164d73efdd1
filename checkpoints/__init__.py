"""Checkpoints: the one reader and writer (`checkpoint.py`), the pickle interpreter it reads
with (`pickle_reader.py`), what a payload must hold (`schema.py`), the authors' files
(`authors_format.py`) and a checkpoint's parameters restored into its model (`restore.py`)."""
