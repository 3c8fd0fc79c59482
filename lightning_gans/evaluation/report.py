"""The metrics of one evaluation as a plain-text table (``lightning-gans evaluate`` and the end of ``fit``)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["format_metrics_table"]

# (key, label, key of its standard deviation); keys as logged, with or without a prefix such as "eval/".
_ROWS = (
    ("fid", "FID", None),
    ("is", "IS", "is_std"),
    ("kid", "KID", "kid_std"),
    ("precision", "Precision", None),
    ("recall", "Recall", None),
    ("f_score", "F-score", None),
    ("density", "Density", None),
    ("coverage", "Coverage", None),
)


def format_metrics_table(metrics: Mapping[str, float], title: str = "") -> str:
    """Rows ``Metric | Value | Std`` for the known metrics present in ``metrics``, in a fixed order.

    Keys may carry a prefix (``"eval/fid"``); unknown keys are listed after the known ones.

    Example:
        >>> print(format_metrics_table({"eval/fid": 12.5, "eval/is": 2.0, "eval/is_std": 0.1}))
        Metric       Value       Std
        ------  ----------  --------
        FID        12.5000
        IS          2.0000    0.1000
    """
    by_name = {key.rpartition("/")[2]: value for key, value in metrics.items()}
    rows = []
    used = set()
    for key, label, std_key in _ROWS:
        if key in by_name:
            std = by_name.get(std_key) if std_key else None
            rows.append((label, by_name[key], std))
            used.update({key, std_key})
    rows += [(key, value, None) for key, value in by_name.items() if key not in used]
    width = max([len("Metric")] + [len(r[0]) for r in rows])
    lines = [title] if title else []
    lines.append(f"{'Metric':<{width}}  {'Value':>10}  {'Std':>8}")
    lines.append(f"{'-' * width}  {'-' * 10}  {'-' * 8}")
    for label, value, std in rows:
        std_text = f"{_number(std):>8}" if std is not None else ""
        lines.append(f"{label:<{width}}  {_number(value):>10}  {std_text}".rstrip())
    return "\n".join(lines)


def _number(value: float) -> str:
    """4 decimals, 6 for small values (KID is typically ~1e-3)."""
    return f"{value:.4f}" if value == 0 or abs(value) >= 0.1 else f"{value:.6f}"
