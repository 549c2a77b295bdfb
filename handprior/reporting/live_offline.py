"""Live and offline tables: causal methods (frame t from frames <= t, so they run live with no delay) apart from
offline ones (whole sequences, or windows that see frames after t).

A table row's method is causal when its label (``One-Euro(min_cutoff=0.5, beta=0.01)``, ``Kalman``, ``OneEuro``)
names a registered filter whose ``causal`` mark is set (:func:`handprior.models.filters.is_causal`); networks and
unknown methods are offline. The unrefined input is the reference of both tables.
"""

from __future__ import annotations

import re

from handprior.models.filters import is_causal
from handprior.models.registry import NETWORKS
from handprior.reporting.rows import INPUT_METHOD
from handprior.reporting.table import TableRow

VIEW_TITLES = {"offline": "offline (whole sequences)", "live": "live (causal: frame t from frames <= t)"}
# Row order: the input, offline filters, causal filters, then the networks in the paper's order, then the rest.
ORDER: tuple[str, ...] = (
    "input", "savitzkygolay", "gaussian1d", "rts", "rtssmoother", "oneeuro", "kalman", "smoothnet", "motionbert",
    "ours",
)  # fmt: skip
CAUSAL_ALIASES = {"oneeuro", "1euro", "kalman"}


def base_name(method: str) -> str:
    """A method label without its settings and its ``+bones`` mark (one skeleton per sequence; on a causal method
    its causal form, ``model.bones: running``), lower case, without spaces, "-" and "_": ``One-Euro+bones(...)``
    -> ``oneeuro``."""
    return re.sub(r"[\s_\-]", "", method.split("(", 1)[0]).lower().removesuffix("+bones")


def is_causal_method(method: str) -> bool:
    """Whether a table label names a causal method (see the module docstring)."""
    causal = {cls.__name__.lower() for cls in NETWORKS if is_causal(cls)} | CAUSAL_ALIASES
    return base_name(method) in causal - {"identity"}


def order_key(row: TableRow) -> tuple[str, int, str]:
    name = base_name(row.method)
    return (row.dataset, ORDER.index(name) if name in ORDER else len(ORDER), row.method.lower())


def split_live_offline(rows: list[TableRow]) -> dict[str, list[TableRow]]:
    """``{"offline": [...], "live": [...]}``, each with the input first; a view without methods is left out."""
    inputs = [row for row in rows if row.method == INPUT_METHOD]
    views: dict[str, list[TableRow]] = {}
    for view, wanted in (("offline", False), ("live", True)):
        methods = [row for row in rows if row.method != INPUT_METHOD and is_causal_method(row.method) == wanted]
        if methods or view == "offline":
            views[view] = sorted(inputs + methods, key=order_key)
    return views
