"""argparse ``type=`` functions that reject nonsense (nan, inf, 1e300, -1, 0 folds) where
the command line is parsed, as one usage line and exit status 2, before any work starts."""
import argparse
import math


def integer(minimum=None, maximum=None):
    """An int within [minimum, maximum] (either may be None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: must be an integer{_bounds(minimum, maximum)}") from None
        _check_range(text, value, minimum, maximum, "an integer")
        return value
    return parse


def number(minimum=None, maximum=None):
    """A finite float within [minimum, maximum] (either may be None)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(
                f"{text!r}: must be a finite number{_bounds(minimum, maximum)}")
        _check_range(text, value, minimum, maximum, "a number")
        return value
    return parse


def _check_range(text, value, minimum, maximum, kind):
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"{text}: must be {kind}{_bounds(minimum, maximum)}")


def _bounds(minimum, maximum) -> str:
    if minimum is None and maximum is None:
        return ""
    if maximum is None:
        return f" of at least {minimum:g}"
    if minimum is None:
        return f" of at most {maximum:g}"
    return f" between {minimum:g} and {maximum:g}"
