"""Pickles written by numpy 1.x (module names `numpy.core.*`), for the checkpoint reader's tests.

Run under numpy 1.x to (re)write tests/reference/numpy1_protocol{2,3,4,5}.pickle (not .pkl,
which git ignores); the committed files were written by numpy 1.26.4 (the scikit-learn 1.2.2 side venv of
tests/reference/sklearn_1_2_2_reference.py):
    /tmp/sk122/bin/python tests/reference/numpy1_pickles.py
`expected_values()` is what each file holds; tests/checkpoints/test_pickle_reader.py reads the files
with this project's reader (numpy 2) and compares.
"""
import pickle
import sys
from pathlib import Path

import numpy as np


def expected_values() -> dict:
    """Every array and scalar form a checkpoint may hold: dtypes, orders, empty, 0-d, big-endian."""
    return {
        "float32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        "fortran": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        "bool": np.array([True, False, True]),
        "uint32_key": np.array([0, 42], dtype=np.uint32),
        "int8": np.array([-128, 0, 127], dtype=np.int8),
        "float16": np.array([0.5, -1.0], dtype=np.float16),
        "big_endian": np.array([1.5, -2.25], dtype=">f4"),
        "empty": np.zeros((0, 5), np.int64),
        "zero_d": np.array(3, np.int32),
        "scalar": np.float32(2.5),
        "int_scalar": np.int64(-7),
    }


if __name__ == "__main__":
    assert np.__version__.startswith("1."), f"run under numpy 1.x, not {np.__version__}"
    folder = Path(__file__).resolve().parent
    for protocol in (2, 3, 4, 5):
        blob = pickle.dumps(expected_values(), protocol=protocol)
        assert b"numpy.core" in blob and b"numpy._core" not in blob
        (folder / f"numpy1_protocol{protocol}.pickle").write_bytes(blob)
        print(f"protocol {protocol}: {len(blob)} bytes", file=sys.stderr)
