"""Numbers and words as the report, the findings and the error messages print them."""

import math
from difflib import get_close_matches


def _as_float(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fnum(v, digits=2):
    """Fixed-point number text; n/a for missing, inf/NaN spelled out."""
    x = _as_float(v)
    if x is None or math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}f}"


def gnum(v, digits=2):
    """Significant-digit number text (gradient norms, losses, measured values)."""
    x = _as_float(v)
    if x is None or not math.isfinite(x):
        return fnum(x)
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def seconds_text(s):
    if not math.isfinite(s):
        return "n/a"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def listed(values, fmt="{}"):
    """The distinct values, sorted, as '1, 2, 4' (each through ``fmt``): a setting's values
    over a claim's runs, quoted in its rule."""
    return ", ".join(fmt.format(v) for v in sorted(set(values)))


def join_words(items):
    items = list(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def plural(n, word, words=None):
    return f"{n} {word if n == 1 else (words or word + 's')}"


def slug(text):
    """A file- and anchor-safe version of ``text``."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(text))


def shorten(text, n):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def unknown_name_message(kind, name, known):
    """'unknown activation 'tahn' (did you mean 'tanh'?); known: ...'"""
    close = get_close_matches(str(name), list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {kind} {name!r}{hint}; known: {', '.join(sorted(known))}"
