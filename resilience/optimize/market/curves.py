r"""Isoelastic curves cut into blocks: the one place their arithmetic lives.

A curve is :math:`P(x) = P_0\,x^{k}` in the quantity share :math:`x = q / q_0`
(:math:`k = 1/\varepsilon`). A block :math:`[a, b]` of it is valued at the curve's
*average* over the block,

.. math:: \bar P_{[a,b]} = \frac{P_0}{b-a}\int_a^b x^k\,dx
   = P_0\,\frac{b^{k+1} - a^{k+1}}{(k+1)(b-a)}
   \quad(\,= P_0\,\frac{\ln b - \ln a}{b-a} \text{ if } k = -1),

so the area under the steps equals the area under the curve, and because the curve is
monotone, :math:`\bar P` lies between :math:`P(a)` and :math:`P(b)`: a price read off a
block is within :math:`|P(a) - P(b)|` of the curve at any point of the block (the *step
error*, :func:`resilience.optimize.market.demand.price_bracket`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CALIBRATION_TIE", "block_average", "edges", "power_curve"]

#: Relative offset from P0 of the narrow blocks on either side of the observed quantity:
#: demand values P0 (1 +- tie), supply costs P0 (1 -+ 2 tie). It makes "fill up to the
#: observed quantity, not beyond" strictly better than the alternatives, so that with no
#: disruption quantities are exactly the observed ones and every price is P0 within
#: 2e-6 (relative), instead of anywhere between two block values.
CALIBRATION_TIE = 1e-6

FloatArray = npt.NDArray[np.float64]


def power_curve(p0: FloatArray | float, k: FloatArray | float, x: FloatArray | float) -> Any:
    """:math:`P_0 x^k` (``inf`` at ``x = 0`` when ``k < 0``)."""
    with np.errstate(divide="ignore"):
        return np.asarray(p0, dtype=np.float64) * np.power(np.asarray(x, dtype=np.float64), k)


def block_average(p0: FloatArray, k: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    r"""Average of :math:`P_0 x^k` over ``[a, b]`` (elementwise, ``0 <= a < b``).

    ``inf`` where the integral diverges (``a = 0`` and ``k <= -1``).
    """
    p0, k, a, b = (np.asarray(v, dtype=np.float64) for v in (p0, k, a, b))
    out = np.empty(np.broadcast(p0, k, a, b).shape)
    p0, k, a, b = np.broadcast_arrays(p0, k, a, b)
    log_case = np.abs(k + 1.0) < 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        e = k + 1.0
        general = (np.power(b, e) - np.power(a, e)) / (e * (b - a))
        logs = (np.log(b) - np.log(a)) / (b - a)
    out = np.where(log_case, logs, general)
    diverges = (a == 0) & (k <= -1.0)
    out = np.where(diverges, np.inf, out)
    return np.asarray(p0 * out, dtype=np.float64)


def edges(start: float, stop: float, count: int, extra: float | None = None) -> FloatArray:
    """``count`` equal blocks from ``start`` to ``stop`` (``count + 1`` edges).

    Plus the edge ``extra`` if it lies strictly inside (a narrow calibration block).
    """
    out = np.linspace(start, stop, count + 1)
    if extra is not None and start < extra < stop and not np.isclose(out, extra).any():
        out = np.sort(np.append(out, extra))
    return out
