"""The one output rule for text that comes from a file: printable, bounded, one line.

A checkpoint (or a file's name, or a config's save_path) is written by whoever sent it. Shown
raw, its text reaches the terminal: ESC and OSC sequences clear the screen or set the window
title, BEL rings, a carriage return or newline forges a line of its own ("saved ..."),
U+202E reverses what follows, and a key of a million characters is a megabyte line. So every
value from a file that a message quotes goes through `printable` (each cut to a fixed length),
and every refusal an entry point prints goes through `error_line` (the whole message escaped
and cut again, whatever was missed).

Lowest layer that every entry point and library package can import (configs: checkpoints,
training and evaluation all sit above it).
"""
from __future__ import annotations

MAX_SHOWN = 80          # characters of one quoted value (a key, a name, a path) in a message
MAX_LINE = 2_000        # characters of a whole message line
MAX_PATH = 400          # characters of a path (a file's name is at most 255 bytes; folders add the rest)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    """A character a terminal would act on, spelled as Python would write it."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(value, limit: int | None = MAX_SHOWN) -> str:
    """`value` as text to show: cut to `limit` characters (saying how long it was), and every
    character that `str.isprintable` rejects escaped: C0 and C1 controls (ESC, BEL, NUL, CR,
    newline, DEL), format characters (U+202E and the other bidirectional controls, zero-width
    joiners), line and paragraph separators, surrogates, private-use and unassigned ones."""
    text = value if isinstance(value, str) else str(value)
    suffix = ""
    if limit is not None and len(text) > limit:
        text, suffix = text[:limit], f"... ({len(text):,} characters)"
    if text.isprintable():          # the common case: nothing to escape
        return text + suffix
    return "".join(c if c.isprintable() else _escape(c) for c in text) + suffix


def path_text(path) -> str:
    """A path (a file's own name may be anyone's text) as it is shown in messages."""
    return printable(str(path), MAX_PATH)


def error_line(error) -> str:
    """`error: <message>` as one printable line of at most MAX_LINE characters: the form every
    entry point prints a refusal in."""
    return "error: " + printable(str(error), MAX_LINE)
