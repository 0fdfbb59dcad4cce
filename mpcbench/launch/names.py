"""The names a case can take — mpcbench's own frameworks, models, datasets and network
profiles — known without importing what they name (a framework, torch), so that the
command line refuses a mistyped name before anything heavy is imported.

The registries stay the authority (:mod:`mpcbench.parties`, :mod:`.catalog`,
:mod:`mpcbench.data`, :mod:`.network.profiles`); tests/unit/test_names.py holds each
list here equal to its registry's answer. A framework of a plugin package is not listed:
with one declared, a name beyond these is left to the registry.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

#: mpcbench's own frameworks (:func:`mpcbench.parties.names` without plugins)
FRAMEWORKS = ("complex", "crypten", "feedback", "mpyc", "plaintext", "split", "spu", "vae")
#: the models a case names by name: shared and baselines' own (:func:`.catalog.model_names`)
#: and ``micro``, the sharing micro-benchmark (its workload: :mod:`mpcbench.case`)
MODELS = ("alexnet", "bnn", "cnn", "cnnf", "complex", "lenet", "micro", "minionn", "mlp",
          "resnet18", "sarda", "secureml", "split", "vae", "vgg16")
#: every dataset a case can name (:data:`mpcbench.data.DATASETS`)
DATASETS = ("mnist", "fashion", "synthetic")
#: the named network profiles (:data:`.network.profiles.NAMED`)
NETWORKS = ("none", "zero", "lan", "lan1g", "wan", "wan100", "falcon-lan", "falcon-wan")


def _plugins_declared() -> bool:
    """Whether a backend package beyond mpcbench's own is declared (an entry point, or
    ``MPCBENCH_PLUGINS``); the package itself is not imported."""
    from .. import BACKEND_PACKAGES, parties

    return any(package not in BACKEND_PACKAGES for package in parties.packages())


def check_framework(name: str) -> None:
    """:class:`InputError` for a framework no backend is named, unless a plugin package
    is declared (then the registry answers when the case is made)."""
    if name not in FRAMEWORKS and not _plugins_declared():
        raise InputError(f"unknown framework {name!r}; choose one of {', '.join(FRAMEWORKS)}")


def check_model(reference: str) -> None:
    """:class:`InputError` for a model name no model has; a user's network (an ONNX file,
    ``package.module:factory``; :mod:`mpcbench.models.sources`) is checked when read."""
    if reference.lower().endswith(".onnx") or ":" in reference:
        return
    if reference not in MODELS:
        raise InputError(f"unknown model {reference!r}; choose one of {', '.join(MODELS)} "
                         "(or PATH.onnx, package.module:factory)")


def check_dataset(name: str) -> None:
    """:class:`InputError` for a dataset that is not one of :data:`DATASETS`."""
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def check_network(spec: str) -> None:
    """:class:`InputError` for a network that is neither a named profile nor a YAML file
    (as :func:`.network.profiles.get_profile` takes it; the file is read there)."""
    path = Path(spec)
    if spec not in NETWORKS and path.suffix not in (".yaml", ".yml") and not path.exists():
        raise InputError(f"unknown network profile {spec!r}: use one of "
                         f"{', '.join(NETWORKS)} or a .yaml file")
