"""Scalar formulas shared by several services: a quantity at a price, sums of value parts.

Every function here is a numba scalar function, inlined into the fused kernel (see
:mod:`gepgeo.services.declare`, :class:`~gepgeo.services.declare.Step`). Sums add left to right,
as the method states them.
"""

from __future__ import annotations

from numba import njit

__all__ = ["scalar", "given", "times", "total3", "total4"]

#: the decorator of a service's scalar formulas: compiled once (cached), inlined at numba-IR
#: level into the generated per-pixel code, NumPy error model (x / 0 is inf, not an exception)
scalar = njit(cache=True, nogil=True, inline="always", error_model="numpy")


@scalar
def given(x: float) -> float:
    """A quantity given directly (a net depth, a value per ha)."""
    return x


@scalar
def times(a: float, b: float) -> float:
    """``a · b``: a quantity at a unit price or cost, a rate times a factor."""
    return a * b


@scalar
def total3(a: float, b: float, c: float) -> float:
    """``a + b + c``, added left to right (the parts of a service's value)."""
    return a + b + c


@scalar
def total4(a: float, b: float, c: float, d: float) -> float:
    """``a + b + c + d``, added left to right (the parts of a service's value)."""
    return a + b + c + d
