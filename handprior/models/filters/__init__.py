"""Classical, parameter-free temporal filters as refinement "networks" (docs/architecture.md, "Baselines"), and
the unrefined input.

Each filter smooths along time the root-relative joints and, separately, the root (wrist) trajectory, then
puts them back together, so absolute positions stay consistent with the smoothed hand. They set
``sequence_level = True`` (the LightningModule applies them to a whole test sequence at once, a single (1,L,J,3)
window) and ``causal`` (True: frame t depends on frames <= t only, a live method; False: offline). They have no
trainable parameters: run them with ``handprior test``, not ``fit``; ``handprior tune`` picks their settings on
the validation split.

- offline (``classical.py``): :class:`SavitzkyGolay`, :class:`Gaussian1d`;
- causal (``one_euro.py``, ``kalman.py``): :class:`OneEuro`, :class:`Kalman`; offline: :class:`RTSSmoother`;
- :class:`Identity`, the input itself (``base.py``).
"""

from handprior.models.filters.base import TIME_AXIS, Identity, TimeFilter, is_causal, smooth_root_relative
from handprior.models.filters.classical import Gaussian1d, SavitzkyGolay, savgol_window
from handprior.models.filters.kalman import Kalman, RTSSmoother, kalman_filter
from handprior.models.filters.one_euro import OneEuro  # not the function one_euro: it would hide the module

__all__ = [
    "TIME_AXIS",
    "Gaussian1d",
    "Identity",
    "Kalman",
    "OneEuro",
    "RTSSmoother",
    "SavitzkyGolay",
    "TimeFilter",
    "is_causal",
    "kalman_filter",
    "savgol_window",
    "smooth_root_relative",
]
