"""The one output rule for text from a file (configs/text.py): what a terminal would act on is
escaped, each quoted value is cut, a refusal is one line."""
import pytest

from configs.text import MAX_LINE, error_line, path_text, printable


@pytest.mark.parametrize("raw, shown", [
    ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),            # OSC: set the window title, BEL
    ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),                 # CSI: clear the screen
    ("a\rsaved x\nb", "a\\rsaved x\\nb"),                 # a forged line of its own
    ("x\x00y\x7f\x9b", "x\\x00y\\x7f\\x9b"),              # NUL, DEL, the C1 CSI
    ("abc\u202edef\u2066\u200f", "abc\\u202edef\\u2066\\u200f"),   # bidirectional controls
    ("\u2028\u2029\ufeff", "\\u2028\\u2029\\ufeff"),      # line / paragraph separators, BOM
    ("\udc80", "\\udc80"),                                # a lone surrogate (no terminal can encode it)
    ("plain ümlaut 字 /tmp/a b.pkl", "plain ümlaut 字 /tmp/a b.pkl"),   # printable text is left alone
])
def test_printable_escapes_what_a_terminal_acts_on(raw, shown):
    assert printable(raw) == shown
    assert printable(raw).isprintable()


def test_each_value_and_each_line_is_cut():
    key = "\x1b" + "k" * 1_000_000
    assert printable(key) == "\\x1b" + "k" * 79 + "... (1,000,001 characters)"
    assert len(path_text("/" + "d" * 5000)) < 450
    line = error_line("x" * 10**6 + "\n" + "y")
    assert line.startswith("error: x") and len(line) < MAX_LINE + 40 and "\n" not in line
    assert error_line("no checkpoint at /tmp/x.pkl") == "error: no checkpoint at /tmp/x.pkl"
