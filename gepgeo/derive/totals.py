"""Annual totals of a depth from the periods of one year (monthly or 8-day products, as bands
of one file or as one file per period)."""

from __future__ import annotations

import numpy as np

__all__ = ["annual_sum"]


def annual_sum(periods: np.ndarray) -> np.ndarray:
    """The annual total of a depth (precipitation, evapotranspiration, runoff) from the depths
    of the periods of one year (12 months, 46 eight-day composites ...): Σ_i d_i.

    Parameters
    ----------
    periods : numpy.ndarray
        Depth of each period, mm, periods along axis 0; ≥ 0.

    Returns
    -------
    numpy.ndarray
        The annual total, mm a⁻¹, float64; NaN where any period is NaN (a missing period is not
        taken as 0). That the periods make up one year is the user's statement, not checked.
    """
    return np.asarray(periods, dtype=np.float64).sum(axis=0)
