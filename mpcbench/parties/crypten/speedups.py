"""Cheaper local computation for CrypTen 0.4.1; what parties send and reveal is unchanged.

Profiling a party (cnn, 2 parties, one thread) showed a third of its CPU time drawing
random words: every share CrypTen creates starts as a pseudo-random zero sharing (PRZS),
and the trusted-first-party (TFP) provider draws every Beaver triple and mask. The
rest goes to elementwise work on large temporaries and to gloo. :func:`enable` changes:

* **PRG.** Random ring elements come from numpy's SFC64, one stream per CrypTen
  generator, seeded with that generator's seed, instead of torch's mt19937 (~2 vs ~5 ns
  per word here). The same parties share the same streams and the values are uniform
  over the same ring. Neither generator is a cryptographic PRG; mt19937 keeps only 32
  bits of CrypTen's 64-bit seeds, the SFC64 streams are seeded with all 64.
* **Two-party zero sharings from one stream.** A PRZS is ``prev - next`` from the two
  generators a party shares with its neighbours; with two parties both neighbours are
  the other party, which knows both words, so one shared word ``r`` (``r`` and ``-r``;
  ``r`` and ``r`` for XOR sharing) is the same sharing at half the draws.
* **TFP work at the dealer only.** CrypTen's TFP provider has *every* party draw the
  triples and compute ``c = a * b`` (a whole extra convolution or matrix product per
  secure product), although only party 0's values enter the sharing and the others
  use only the sizes. Here the others compute the sizes and skip the work (for the
  products inference uses: ``mul``, ``matmul``, ``conv1d``, ``conv2d``).
* **Openings.** CrypTen opens several tensors at once (e.g. both masked operands of a
  Beaver product) with one asynchronous all-reduce *per tensor*; here they go as one
  concatenated all-reduce (fewer gloo operations, each costs thread hand-offs and
  ``2 (n-1)`` ring steps). Between two parties the all-reduce is one exchange of
  shares (``isend``/``irecv``) instead of gloo's ring (reduce-scatter, then
  all-gather): the same bytes each way, half the message latency.
* **Configuration reads.** CrypTen reads ``cfg.section.key`` (through OmegaConf, ~25 us
  each) several times per operation, ~15 % of a party's CPU for the mlp at batch 64.
  Reads go to a plain copy, rebuilt whenever CrypTen replaces its config (every
  ``cfg["a.b"] = v`` and ``temp_override`` does); a section write (``cfg.mpc.provider =
  "TTP"``, CrypTen's documented form) goes to CrypTen's config and drops the copy. A
  write to the OmegaConf tree behind CrypTen's back (``cfg.config.mpc...``) is not seen.
* **Allocator.** Shares are large temporaries; glibc returns freed blocks above its
  adaptive mmap threshold to the kernel and trims the heap top, so the next tensor
  page-faults its memory in again (2000-4000 faults per cnn image, costly on virtual
  machines). glibc is asked to keep freed memory for reuse; peak RSS is unchanged.
  This ``mallopt`` setting is process-wide and stays after :func:`disable`.

:func:`disable` restores CrypTen's own code (``variant=stock`` runs CrypTen alone; the
max-pool tree of ``variant=tuned`` lives in :mod:`.layers`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import sys
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import torch

#: (owner, attribute) -> CrypTen's own value, recorded when first patched
_originals: dict[tuple[Any, str], Any] = {}
_streams: dict[torch.Generator, tuple[int, np.random.SFC64]] = {}
_CPU = torch.device("cpu")
_SENTINEL = -1  # src value that makes CrypTen's shared-tensor constructors return empty


def _crypten() -> ModuleType:
    return sys.modules["crypten"]


def _comm() -> Any:
    return _crypten().communicator.get()


def _original(owner: Any, name: str) -> Any:
    return _originals.get((owner, name), vars(owner)[name])


# -- PRG -------------------------------------------------------------------------------


def _stream(generator: torch.Generator | None) -> np.random.SFC64:
    """The SFC64 stream standing in for ``generator`` (CrypTen's local one if ``None``)."""
    if generator is None:
        generator = _crypten().generators["local"][_CPU]
    seed = generator.initial_seed()
    known = _streams.get(generator)
    if known is None or known[0] != seed:  # new generator, or reseeded
        known = _streams[generator] = (seed, np.random.SFC64(np.random.SeedSequence(seed)))
    return known[1]


def _shape(size: Any) -> tuple[int, ...]:
    """``5``, ``(2, 3)``, ``torch.Size`` or CrypTen's ``(torch.Size,)`` as a shape."""
    if isinstance(size, int):
        return (size,)
    size = tuple(size)
    return tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size


def _words(size: Any, generator: torch.Generator | None) -> torch.Tensor:
    shape = _shape(size)
    raw = _stream(generator).random_raw(math.prod(shape))
    return torch.from_numpy(raw.view(np.int64)).reshape(shape)


def _on_cpu(device: Any) -> bool:
    return device is None or torch.device(device).type == "cpu"


def generate_random_ring_element(size: Any, ring_size: int = 2**64, generator=None, **kwargs):
    """Uniform elements of the 64-bit ring (drop-in for ``crypten.common.rng``)."""
    if ring_size != 2**64 or not _on_cpu(kwargs.get("device")):
        stock = _original(_rng(), "generate_random_ring_element")
        return stock(size, ring_size, generator, **kwargs)
    return _words(size, generator)


def generate_kbit_random_tensor(size: Any, bitlength: int | None = None, generator=None, **kwargs):
    """Uniform ``bitlength``-bit integers (drop-in for ``crypten.common.rng``)."""
    if not _on_cpu(kwargs.get("device")):
        stock = _original(_rng(), "generate_kbit_random_tensor")
        return stock(size, bitlength, generator, **kwargs)
    words = _words(size, generator)
    if bitlength is None or bitlength >= 64:
        return words
    return words & ((1 << bitlength) - 1)


def _rng() -> ModuleType:
    from crypten.common import rng

    return rng


# -- zero sharings ---------------------------------------------------------------------


def _przs(cls: type, negate_at_rank1: bool) -> Callable[..., Any]:
    """``cls.PRZS`` drawing one word per element from the stream the two parties share."""
    stock = _original(cls, "PRZS")

    def przs(*size: Any, device: Any = None) -> Any:
        comm = _comm()
        if comm.get_world_size() != 2 or not _on_cpu(device):
            return stock(*size, device=device)
        rank = comm.get_rank()
        # party 0's "next" generator and party 1's "prev" one have the same seed
        shared = _crypten().generators["next" if rank == 0 else "prev"][_CPU]
        tensor = cls(src=_SENTINEL)
        r = _words(size, shared)
        tensor.share = r.neg_() if rank == 1 and negate_at_rank1 else r
        return tensor

    return staticmethod(przs)


# -- TFP provider: only the dealer (party 0) computes --------------------------------------


def _is_dealer() -> bool:
    return _comm().get_rank() == 0


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


def _tfp() -> type:
    from crypten.mpc.provider.tfp_provider import TrustedFirstParty

    return TrustedFirstParty


def _additive_triple(self, size0, size1, op, device=None, *args, **kwargs):
    if op not in _PRODUCT_SIZES:  # e.g. transposed convolutions: CrypTen's own path
        stock = _original(_tfp(), "generate_additive_triple")
        return stock(self, size0, size1, op, device, *args, **kwargs)

    def make() -> list[torch.Tensor]:
        a = generate_random_ring_element(size0, device=device)
        b = generate_random_ring_element(size1, device=device)
        return [a, b, getattr(torch, op)(a, b, *args, **kwargs)]

    sizes = [size0, size1, _PRODUCT_SIZES[op](size0, size1, *args, **kwargs)]
    return tuple(_dealt(make, sizes, _primitives()[0], precision=0, device=device))


def _square(self, size, device=None):
    def make() -> list[torch.Tensor]:
        r = generate_random_ring_element(size, device=device)
        return [torch.stack([r, r.mul(r)])]

    (stacked,) = _dealt(make, [(2, *size)], _primitives()[0], precision=0, device=device)
    return stacked[0], stacked[1]


def _binary_triple(self, size0, size1, device=None):
    def make() -> list[torch.Tensor]:
        a = generate_kbit_random_tensor(size0, device=device)
        b = generate_kbit_random_tensor(size1, device=device)
        return [a, b, a & b]

    c_size = np.broadcast_shapes(tuple(size0), tuple(size1))
    return tuple(_dealt(make, [size0, size1, c_size], _primitives()[1], device=device))


def _wrap_rng(self, size, device=None):
    from crypten.common.util import count_wraps

    ast, _ = _primitives()
    comm = _comm()
    if _is_dealer():
        parties = comm.get_world_size()
        r = [generate_random_ring_element(size, device=device) for _ in range(parties)]
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
    return r_arith, bst(r, size=size, src=0, device=device)


# -- openings: one message per batch, a direct exchange between two parties ------------------


def _exchange(flat: torch.Tensor, op: Any, comm: Any) -> bool:
    """Two parties: ``flat`` becomes ``op(mine, peer's)`` after one swap of messages."""
    import torch.distributed as dist

    combine = {dist.ReduceOp.SUM: torch.Tensor.add_, dist.ReduceOp.BXOR: torch.Tensor.bitwise_xor_}
    if comm.world_size != 2 or op not in combine:
        return False
    peer, theirs = 1 - comm.rank, torch.empty_like(flat)
    requests = [dist.isend(flat, peer, group=comm.main_group),
                dist.irecv(theirs, peer, group=comm.main_group)]
    for request in requests:
        request.wait()
    combine[op](flat, theirs)
    return True


def _fast_all_reduce(stock: Callable[..., Any]) -> Callable[..., Any]:
    """CrypTen's ``all_reduce`` (unwrapped ``stock``) with a batch sent as one tensor and,
    between two parties, as one exchange instead of gloo's two-step ring."""
    import torch.distributed as dist

    def all_reduce(self, input, op=dist.ReduceOp.SUM, batched=False):
        tensors = input if batched else [input]
        if len({(t.dtype, t.device) for t in tensors}) != 1:
            return stock(self, input, op=op, batched=batched)
        flat = torch.cat([t.reshape(-1) for t in tensors])
        if not _exchange(flat, op, self):
            dist.all_reduce(flat, op=op, group=self.main_group)
        if not batched:
            return flat.view_as(input)
        parts = flat.split([t.numel() for t in tensors])
        return [part.view_as(t) for part, t in zip(parts, tensors, strict=True)]

    return all_reduce  # named "all_reduce": CrypTen's traffic log dispatches on the name


# -- configuration reads -----------------------------------------------------------------


class _Section(SimpleNamespace):
    """A cached config section; an attribute write goes to CrypTen's config.

    ``cfg.mpc.provider = "TTP"`` (CrypTen's documented way) sets the value in CrypTen's
    OmegaConf tree, as without the cache, and drops the cache so the next read sees it.
    """

    def __init__(self, config: Any, path: str, **values: Any) -> None:
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_path", path)
        super().__init__(**values)

    def __setattr__(self, name: str, value: Any) -> None:
        from omegaconf import OmegaConf

        key = f"{self._path}.{name}" if self._path else name
        OmegaConf.update(self._config, key, value, merge=False)
        _view[:] = [None, None]


def _cached(node: Any, config: Any, path: str = "") -> Any:
    if isinstance(node, dict):
        return _Section(config, path, **{k: _cached(v, config, f"{path}.{k}" if path else k)
                                         for k, v in node.items()})
    return node


#: (config object, its cached copy), rebuilt when CrypTen replaces the config or a
#: section attribute is written
_view: list[Any] = [None, None]


def _cfg_getattribute(self, name: str) -> Any:
    try:
        return object.__getattribute__(self, name)
    except AttributeError:
        from omegaconf import OmegaConf

        config = object.__getattribute__(self, "config")
        if _view[0] is not config:
            _view[:] = [config, _cached(OmegaConf.to_container(config, resolve=True), config)]
        result = _view[1]
        for key in name.split("."):
            result = getattr(result, key)
        return result


# -- switching ---------------------------------------------------------------------------


def _patches() -> dict[tuple[Any, str], Any]:
    """(owner, attribute) -> replacement, for every place CrypTen looks the code up."""
    from crypten.communicator.communicator import _logging
    from crypten.communicator.distributed_communicator import DistributedCommunicator
    from crypten.config.config import CrypTenConfig

    ast, bst = _primitives()
    rng = _rng()
    patches: dict[tuple[Any, str], Any] = {
        (CrypTenConfig, "__getattribute__"): _cfg_getattribute,
        (ast, "PRZS"): _przs(ast, negate_at_rank1=True),
        (bst, "PRZS"): _przs(bst, negate_at_rank1=False),
        (DistributedCommunicator, "all_reduce"): _logging(
            _fast_all_reduce(_original(DistributedCommunicator, "all_reduce").__wrapped__)),
    }
    tfp = _tfp()
    for name, ours in (("generate_additive_triple", _additive_triple), ("square", _square),
                       ("generate_binary_triple", _binary_triple), ("wrap_rng", _wrap_rng),
                       ("B2A_rng", _b2a_rng)):
        patches[(tfp, name)] = ours
    # the rng functions are imported by name into several crypten modules
    for name, ours in (("generate_random_ring_element", generate_random_ring_element),
                       ("generate_kbit_random_tensor", generate_kbit_random_tensor)):
        stock = _original(rng, name)
        for module_name, module in list(sys.modules.items()):
            if module_name.split(".")[0] == "crypten" and vars(module).get(name) in (stock, ours):
                patches[(module, name)] = ours
    return patches


def _install(use_ours: bool) -> None:
    for (owner, name), ours in _patches().items():
        _originals.setdefault((owner, name), vars(owner)[name])
        setattr(owner, name, ours if use_ours else _originals[(owner, name)])


# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
#: glibc's largest mmap threshold on 64-bit; larger blocks are always mapped
_MMAP_MAX = 32 << 20


def _keep_freed_memory() -> bool:
    """Make glibc reuse freed blocks up to 32 MB instead of unmapping them.

    ``False`` where the C library is not glibc (or refuses).
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    settings = ((_M_MMAP_THRESHOLD, _MMAP_MAX), (_M_TRIM_THRESHOLD, 1 << 30),
                (_M_TOP_PAD, 64 << 20))
    return all(mallopt(param, value) == 1 for param, value in settings)


def enable() -> bool:
    """Switch every speedup on (idempotent; crypten must be imported).

    Returns whether glibc accepted the allocator settings.
    """
    _install(True)
    return _keep_freed_memory()


def disable() -> None:
    """Restore CrypTen's own code."""
    if _originals:
        _install(False)


def enabled() -> bool:
    """Whether :func:`enable` is in effect."""
    return _rng().generate_random_ring_element is generate_random_ring_element
