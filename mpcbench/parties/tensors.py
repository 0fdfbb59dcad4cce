"""A backend that computes with torch at the numpy interface of :class:`~.base.Backend`:
torch's threads, arrays in as tensors, tensors out as arrays. Only such backends import
this module (it imports torch)."""

from __future__ import annotations

import numpy as np
import torch


def use_threads(threads: int) -> None:
    """Let torch use ``threads`` threads (the party's share of the cores), at setup."""
    torch.set_num_threads(threads)


def tensor(x: np.ndarray) -> torch.Tensor:
    """``x`` as a tensor of its dtype (sharing its memory where it can)."""
    return torch.from_numpy(np.ascontiguousarray(x))


def array(y: torch.Tensor | None) -> np.ndarray | None:
    """``y`` as a numpy array (``None`` stays ``None``)."""
    return None if y is None else y.detach().cpu().numpy()
