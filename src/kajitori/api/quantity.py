"""Resource quantities (`1536Mi`, `100m`, `1e3`), parsed, compared and printed as upstream.

Mirrors staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go, suffix.go and amount.go.
Values are exact (`fractions.Fraction`) and, like upstream, rounded up (away from zero) to
nano units when parsed. `str(q)` is upstream's `Quantity.String()`: the text as written when
upstream's parser keeps it (already canonical), otherwise the canonical form of the quantity's
format (BinarySI `Ki`..`Ei`, DecimalSI `n`..`E`, DecimalExponent `e<n>`).

Departure: upstream keeps an int64 fast path and an arbitrary-precision one; here one exact
representation serves both, and only the "keep the original text" rule of the fast path is
reproduced, since that is all a user can see.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from fractions import Fraction

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

SPLIT_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12,
                     "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {v // 10: k for k, v in _BINARY_SUFFIXES.items()}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_MAX_INT64_FACTORS = 18
_NANO = Fraction(1, 10**9)
_INT64_MAX = (1 << 63) - 1


class QuantityError(ValueError):
    """A string that is not a quantity; the message is upstream's (ERR_FORMAT_WRONG, ...)."""


@functools.total_ordering
@dataclass(frozen=True)
class Quantity:
    """An exact amount and the format it prints in. Compare and hash by amount only, as
    upstream's Cmp/Equal do (`1Ki == 1024`)."""

    amount: Fraction
    format: str = DECIMAL_SI
    _text: str | None = field(default=None, compare=False, repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.amount == other.amount

    def __lt__(self, other: Quantity) -> bool:
        return self.amount < other.amount

    def __hash__(self) -> int:
        return hash(self.amount)

    def __add__(self, other: Quantity) -> Quantity:
        """Upstream Add: the receiver's format, or the other's when the receiver is zero."""
        fmt = other.format if self.amount == 0 else self.format
        return Quantity(self.amount + other.amount, fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        fmt = other.format if self.amount == 0 else self.format
        return Quantity(self.amount - other.amount, fmt)

    def __neg__(self) -> Quantity:
        return Quantity(-self.amount, self.format)

    def is_zero(self) -> bool:
        return self.amount == 0

    def sign(self) -> int:
        return (self.amount > 0) - (self.amount < 0)

    def scaled_value(self, scale: int) -> int:
        """ceil(q / 10^scale), rounding away from zero as upstream's ScaledValue."""
        scaled = self.amount / Fraction(10) ** scale
        return _round_away(scaled)

    def value(self) -> int:
        """Whole units, rounded up (away from zero): `1500m` → 2."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """Thousandths, rounded up: `0.1m`... cannot occur below nano; `1.5` → 1500."""
        return self.scaled_value(-3)

    def __str__(self) -> str:
        if self._text is not None:
            return self._text
        return canonical(self.amount, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"


def _round_away(value: Fraction) -> int:
    return math.ceil(value) if value >= 0 else math.floor(value)


def from_int(value: int, fmt: str = DECIMAL_SI) -> Quantity:
    """Upstream NewQuantity."""
    return Quantity(Fraction(value), fmt)


def from_milli(value: int, fmt: str = DECIMAL_SI) -> Quantity:
    """Upstream NewMilliQuantity."""
    return Quantity(Fraction(value, 1000), fmt)


def _split(text: str) -> tuple[bool, str, str, str]:
    """Upstream parseQuantityString: (positive, num without leading zeros, denom, suffix).
    Raises QuantityError(ERR_FORMAT_WRONG) when the text does not fit the grammar."""
    positive, pos, end = True, 0, len(text)
    if text[:1] == "-":
        positive, pos = False, 1
    elif text[:1] == "+":
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and text[pos].isascii() and text[pos].isdigit():
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isascii() and text[pos].isdigit():
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos].isascii() and text[pos].isdigit():
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return positive, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix, or QuantityError(ERR_SUFFIX)."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[:1] in "+-" else digits
        if body.isascii() and body.isdigit():
            return 10, int(digits), DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def parse(text: str) -> Quantity:
    """Upstream ParseQuantity. Raises QuantityError with upstream's message."""
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(Fraction(0), DECIMAL_SI, "0")
    positive, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)
    magnitude = Fraction(int(num + denom), 10 ** len(denom)) if (num + denom) else Fraction(0)
    magnitude *= Fraction(base) ** exponent
    kept = text if _keeps_text(num, denom, base, exponent, fmt) else None
    if kept is None:
        magnitude = Fraction(math.ceil(magnitude / _NANO)) * _NANO  # upstream rounds up to nano
        if fmt == BINARY_SI and magnitude > _INT64_MAX:
            magnitude = Fraction(_INT64_MAX)
        if fmt == BINARY_SI and 0 < magnitude < 1:
            fmt = DECIMAL_SI
    amount = magnitude if positive else -magnitude
    return Quantity(amount, fmt, kept)


def _keeps_text(num: str, denom: str, base: int, exponent: int, fmt: str) -> bool:
    """Upstream's int64 fast path returns the original text as the quantity's string when
    it is evidently canonical; reproduce exactly when."""
    if fmt == BINARY_SI:
        if exponent < 0 or denom:
            return False
        mantissa = 1 << exponent
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        scale = 0
    else:
        mantissa = 1
        precision = _MAX_INT64_FACTORS - (len(num) + len(denom))
        scale = exponent
    if precision < 0:
        return False
    scale -= len(denom)
    if scale < -9:
        return False
    shifted = num + denom
    value = int(shifted)
    if value > _INT64_MAX or value * mantissa > _INT64_MAX:
        return False
    if fmt == BINARY_SI:
        return exponent % 10 == 0 and value & 0x07 != 0
    return scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def from_json(value: str | int | float) -> Quantity:
    """A quantity as JSON carries it: a string, or a bare number (upstream's UnmarshalJSON
    parses the number's text). Raises QuantityError."""
    if isinstance(value, bool):
        raise QuantityError(ERR_FORMAT_WRONG)
    if isinstance(value, int | float):
        value = repr(value) if isinstance(value, float) else str(value)
    return parse(value.strip())


def canonical(amount: Fraction, fmt: str) -> str:
    """Upstream CanonicalizeBytes for an amount already at nano precision."""
    if amount == 0:
        return "0"
    if fmt == BINARY_SI and (-1024 < amount < 1024 or amount.denominator != 1):
        fmt = DECIMAL_SI
    if fmt == BINARY_SI:
        number, times = int(amount), 0
        while number % 1024 == 0:
            number //= 1024
            times += 1
        return f"{number}{_BINARY_BY_EXPONENT.get(times, '')}"
    # An exact decimal: mantissa * 10^exponent, trailing zeros folded into the exponent,
    # then the exponent lowered to a multiple of three.
    exponent = 0
    while amount.denominator != 1:
        amount *= 10
        exponent -= 1
    mantissa = int(amount)
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    while exponent % 3 != 0:
        mantissa *= 10
        exponent -= 1
    if fmt == DECIMAL_EXPONENT:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    return f"{mantissa}{_DECIMAL_BY_EXPONENT.get(exponent, '')}"
