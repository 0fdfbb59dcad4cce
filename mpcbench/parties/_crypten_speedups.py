"""Cheaper local computation for CrypTen 0.4.1; its protocol and messages stay the same.

Profiling a party (cnn, 2 parties) shows a third of its CPU time in ``torch.randint``:
every share CrypTen creates starts as a pseudo-random sharing of zero (two 64-bit words
per element from generators shared with the neighbouring parties), and every Beaver
triple, wrap mask and bit mask of the trusted-first-party (TFP) provider is drawn too.
:func:`enable` changes two local things:

* **PRG.** Random ring elements come from numpy's SFC64, one stream per CrypTen
  generator, seeded from that generator's seed, instead of torch's mt19937 (~2 vs ~7 ns
  per word here). The same parties share the same streams and the values are uniform
  over the same ring, so every message has the same distribution. Neither generator is a
  cryptographic PRG; mt19937 also keeps only 32 bits of CrypTen's 64-bit seeds, the
  SFC64 streams are seeded with all 64.
* **TFP work at the dealer only.** CrypTen's TFP provider has *every* party draw the
  triples and compute ``c = a * b`` (a whole extra convolution or matrix product per
  secure product), although only party 0's values enter the sharing and the others
  use nothing but the sizes. Here the others compute only the sizes and skip the work
  (for the products inference uses: ``mul``, ``matmul``, ``conv1d``, ``conv2d``).

* **One collective per batched opening.** CrypTen opens several tensors at once (e.g.
  both masked operands of a Beaver product) with one asynchronous all-reduce *per
  tensor*; they are concatenated into one all-reduce instead: the same bytes and
  the same number of rounds, fewer gloo operations (each costs thread hand-offs and,
  at ``n`` parties, ``2 (n-1)`` ring steps).

:func:`disable` restores CrypTen's own code (``tuned=false`` runs stock CrypTen).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import torch

_RNG_FUNCTIONS = ("generate_random_ring_element", "generate_kbit_random_tensor")
_TFP_METHODS = ("generate_additive_triple", "square", "generate_binary_triple", "wrap_rng",
                "B2A_rng")
_originals: dict[str, Any] = {}
_streams: dict[torch.Generator, tuple[int, np.random.SFC64]] = {}


def _crypten() -> ModuleType:
    return sys.modules["crypten"]


def _stream(generator: torch.Generator | None) -> np.random.SFC64:
    """The SFC64 stream standing in for ``generator`` (CrypTen's local one if ``None``)."""
    if generator is None:
        generator = _crypten().generators["local"][torch.device("cpu")]
    seed = generator.initial_seed()
    known = _streams.get(generator)
    if known is None or known[0] != seed:  # new generator, or reseeded
        known = _streams[generator] = (seed, np.random.SFC64(np.random.SeedSequence(seed)))
    return known[1]


def _words(size: Any, generator: torch.Generator | None) -> torch.Tensor:
    shape = (size,) if isinstance(size, int) else tuple(size)
    raw = _stream(generator).random_raw(math.prod(shape))
    return torch.from_numpy(raw.view(np.int64)).reshape(shape)


def _on_cpu(kwargs: dict[str, Any]) -> bool:
    device = kwargs.get("device")
    return device is None or torch.device(device).type == "cpu"


def generate_random_ring_element(size: Any, ring_size: int = 2**64, generator=None, **kwargs):
    """Uniform elements of the 64-bit ring (drop-in for ``crypten.common.rng``)."""
    if ring_size != 2**64 or not _on_cpu(kwargs):
        return _originals["generate_random_ring_element"](size, ring_size, generator, **kwargs)
    return _words(size, generator)


def generate_kbit_random_tensor(size: Any, bitlength: int | None = None, generator=None, **kwargs):
    """Uniform ``bitlength``-bit integers (drop-in for ``crypten.common.rng``)."""
    if not _on_cpu(kwargs):
        return _originals["generate_kbit_random_tensor"](size, bitlength, generator, **kwargs)
    words = _words(size, generator)
    if bitlength is None or bitlength >= 64:
        return words
    return words & ((1 << bitlength) - 1)


# -- TFP provider: only the dealer (party 0) computes --------------------------------------


def _is_dealer() -> bool:
    return _crypten().communicator.get().get_rank() == 0


def _primitives() -> tuple[type, type]:
    from crypten.mpc.primitives import ArithmeticSharedTensor, BinarySharedTensor

    return ArithmeticSharedTensor, BinarySharedTensor


def _dealt(make: Callable[[], list[torch.Tensor]], sizes: list[Any], shared_as: type,
           **kwargs: Any) -> list[Any]:
    """Share the dealer's tensors ``make()``; the other parties only give their sizes."""
    if _is_dealer():
        return [shared_as(t, src=0, **kwargs) for t in make()]
    return [shared_as(None, size=s, src=0, **kwargs) for s in sizes]


def _conv_size(size0: Any, size1: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
               groups: int = 1) -> tuple[int, ...]:
    """Output size of ``conv1d``/``conv2d`` of an input ``size0`` with a kernel ``size1``."""
    spatial = len(size0) - 2

    def per_dim(v: Any) -> tuple[int, ...]:
        return (v,) * spatial if isinstance(v, int) else tuple(v)

    out = [
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(size0[2:], size1[2:], per_dim(stride), per_dim(padding),
                                 per_dim(dilation), strict=True)
    ]
    return (size0[0], size1[0], *out)


def _matmul_size(size0: Any, size1: Any) -> tuple[int, ...]:
    a, b = tuple(size0), tuple(size1)
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(a) == 1:
        return (*b[:-2], b[-1])
    if len(b) == 1:
        return a[:-1]
    return (*np.broadcast_shapes(a[:-2], b[:-2]), a[-2], b[-1])


#: output size of the products the dealer-only path supports, from the operand sizes
_PRODUCT_SIZES: dict[str, Callable[..., tuple[int, ...]]] = {
    "mul": lambda s0, s1: tuple(np.broadcast_shapes(tuple(s0), tuple(s1))),
    "matmul": _matmul_size,
    "conv1d": _conv_size,
    "conv2d": _conv_size,
}


def _additive_triple(self, size0, size1, op, device=None, *args, **kwargs):
    ast, _ = _primitives()
    if op not in _PRODUCT_SIZES:  # e.g. transposed convolutions: CrypTen's own path
        return _originals["TFP.generate_additive_triple"](self, size0, size1, op, device,
                                                          *args, **kwargs)

    def make() -> list[torch.Tensor]:
        a = generate_random_ring_element(size0, device=device)
        b = generate_random_ring_element(size1, device=device)
        return [a, b, getattr(torch, op)(a, b, *args, **kwargs)]

    sizes = [size0, size1, _PRODUCT_SIZES[op](size0, size1, *args, **kwargs)]
    return tuple(_dealt(make, sizes, ast, precision=0, device=device))


def _square(self, size, device=None):
    ast, _ = _primitives()

    def make() -> list[torch.Tensor]:
        r = generate_random_ring_element(size, device=device)
        return [torch.stack([r, r.mul(r)])]

    (stacked,) = _dealt(make, [(2, *size)], ast, precision=0, device=device)
    return stacked[0], stacked[1]


def _binary_triple(self, size0, size1, device=None):
    _, bst = _primitives()

    def make() -> list[torch.Tensor]:
        a = generate_kbit_random_tensor(size0, device=device)
        b = generate_kbit_random_tensor(size1, device=device)
        return [a, b, a & b]

    c_size = np.broadcast_shapes(tuple(size0), tuple(size1))
    return tuple(_dealt(make, [size0, size1, c_size], bst, device=device))


def _wrap_rng(self, size, device=None):
    from crypten.common.util import count_wraps

    ast, _ = _primitives()
    comm = _crypten().communicator.get()
    if _is_dealer():
        r = [generate_random_ring_element(size, device=device) for _ in range(comm.get_world_size())]
        share = comm.scatter(r, 0)
        theta_r = ast(count_wraps(r), precision=0, src=0)
    else:
        share = comm.scatter(None, 0, size=size, device=device)
        theta_r = ast(None, size=size, precision=0, src=0, device=device)
    return ast.from_shares(share, precision=0), theta_r


def _b2a_rng(self, size, device=None):
    ast, bst = _primitives()
    r = generate_kbit_random_tensor(size, bitlength=1, device=device) if _is_dealer() else None
    r_arith = ast(r, size=size, precision=0, src=0, device=device)
    r_bin = bst(r, size=size, src=0, device=device)
    return r_arith, r_bin


_TFP_REPLACEMENTS = dict(zip(_TFP_METHODS, (_additive_triple, _square, _binary_triple,
                                            _wrap_rng, _b2a_rng), strict=True))
_RNG_REPLACEMENTS = {"generate_random_ring_element": generate_random_ring_element,
                     "generate_kbit_random_tensor": generate_kbit_random_tensor}


def _all_reduce(self, input, op=None, batched=False):
    """CrypTen's ``all_reduce``, with a batch of same-dtype tensors sent as one."""
    import torch.distributed as dist

    op = dist.ReduceOp.SUM if op is None else op
    stock = _originals["all_reduce"].__wrapped__
    if not batched or len({(t.dtype, t.device) for t in input}) != 1:
        return stock(self, input, op=op, batched=batched)
    flat = torch.cat([t.reshape(-1) for t in input])
    dist.all_reduce(flat, op=op, group=self.main_group)
    return [part.view_as(t) for part, t in zip(flat.split([t.numel() for t in input]), input,
                                                strict=True)]


# crypten's _logging wrapper counts traffic by the wrapped function's name
_all_reduce.__name__ = "all_reduce"


def _crypten_modules_using(original: Any) -> list[ModuleType]:
    return [m for name, m in list(sys.modules.items())
            if (name == "crypten" or name.startswith("crypten.")) and m is not None
            and any(v is original for v in vars(m).values())]


def _install(use_ours: bool) -> None:
    from crypten.common import rng
    from crypten.communicator.communicator import _logging
    from crypten.communicator.distributed_communicator import DistributedCommunicator
    from crypten.mpc.provider.tfp_provider import TrustedFirstParty

    if not _originals:
        _originals.update({f: getattr(rng, f) for f in _RNG_FUNCTIONS})
        _originals.update({f"TFP.{m}": vars(TrustedFirstParty)[m] for m in _TFP_METHODS})
        _originals["all_reduce"] = vars(DistributedCommunicator)["all_reduce"]
        _originals["fused all_reduce"] = _logging(_all_reduce)
    DistributedCommunicator.all_reduce = (
        _originals["fused all_reduce"] if use_ours else _originals["all_reduce"]
    )
    for name in _RNG_FUNCTIONS:
        new = _RNG_REPLACEMENTS[name] if use_ours else _originals[name]
        for old in (_originals[name], _RNG_REPLACEMENTS[name]):
            for module in _crypten_modules_using(old):
                for attr, value in list(vars(module).items()):
                    if value is old:
                        setattr(module, attr, new)
    for name in _TFP_METHODS:
        setattr(TrustedFirstParty, name,
                _TFP_REPLACEMENTS[name] if use_ours else _originals[f"TFP.{name}"])


def enable() -> None:
    """Use the faster PRG and dealer-only TFP work (idempotent; crypten must be imported)."""
    _install(True)


def disable() -> None:
    """Restore CrypTen's own PRG and TFP provider."""
    if _originals:
        _install(False)


def enabled() -> bool:
    """Whether :func:`enable` is in effect."""
    from crypten.common import rng

    return rng.generate_random_ring_element is generate_random_ring_element
