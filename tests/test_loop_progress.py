"""The training loop's progress bar (training/loop.py): it says "compiling" during the first
dispatch, and its rate counts only the steps after it."""
import io

from tqdm import tqdm

from training.loop import _restart_clock, train


def test_restart_clock_starts_the_rate_after_compilation():
    # smoothing 0: tqdm's rate is then (n - initial) / (now - start), what the restart resets.
    bar = tqdm(total=100, initial=0, file=io.StringIO(), desc="compiling", mininterval=0, smoothing=0)
    bar.start_t -= 60.0                    # a minute of compilation before the first chunk returned
    _restart_clock(bar, 10)
    assert bar.n == 10 and bar.initial == 10 and bar.desc == ""
    bar.start_t -= 2.0                     # then 20 steps in two seconds
    bar.update(20)
    rate = (bar.n - bar.initial) / bar.format_dict["elapsed"]
    assert 9.0 < rate < 11.0               # 10 steps/s; with the compile counted it would be 0.5


def test_first_reading_says_compiling(tiny_config, capsys):
    train(tiny_config, progress=True)
    err = capsys.readouterr().err
    assert err.index("compiling") < err.index("8/8")
    assert "compiling" not in err[err.index("8/8") - 40:]
