"""What a checkpoint payload must hold (checkpoints/schema.py): the one-pass finite check.
(Payloads that break the schema are among the hostile files of tests/end_to_end/test_hostile_checkpoints.py.)"""
import numpy as np


def test_finite_check_agrees_with_isfinite():
    """The one-pass check (sum of squares, min/max when it overflows) against numpy's isfinite
    over every element, for values near each dtype's limit, NaN and infinities anywhere, both
    memory orders; the reader's record of an array gives the same answer as checking it later."""
    from checkpoints.schema import FiniteValues, all_finite

    rng = np.random.default_rng(0)
    record = FiniteValues()
    cases = []
    for dtype in (np.float16, np.float32, np.float64):
        top = float(np.finfo(dtype).max)
        for scale in (1.0, top**0.5, top / 4):  # fits, squares overflow, near the limit
            for bad in (None, np.nan, np.inf, -np.inf):
                values = (rng.standard_normal((7, 5)) * scale).clip(-top, top).astype(dtype)
                if bad is not None:
                    values.flat[rng.integers(values.size)] = bad
                cases += [values, np.asfortranarray(values)]
    cases += [np.zeros(0, np.float32), np.arange(6).reshape(2, 3)]
    for values in cases[::2]:
        record(values)  # half seen by the "reader", half not
    for values in cases:
        assert all_finite(values) == bool(np.isfinite(values).all()) == record.of(values), values
