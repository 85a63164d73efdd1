"""Parametrized cases split between the README's quick test command and CI's slow step."""
import pytest


def quick_first(cases, keep: int, unpack: bool = False, id_of=lambda case: str(case[0])) -> list:
    """One pytest.param per case: the first `keep` run in the quick suite, the others are marked
    `slow` (CI runs them after it with `pytest -m slow`), so every case still runs in CI.

    `unpack`: each case is a tuple of several argument values; `id_of`: the test id of a case
    (default its first item, e.g. a reference case's name).
    """
    return [pytest.param(*(case if unpack else (case,)), id=id_of(case), marks=() if i < keep else pytest.mark.slow)
            for i, case in enumerate(cases)]
