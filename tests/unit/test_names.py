"""The names the command line checks before importing anything heavy
(:mod:`mpcbench.launch.names`) are the registries' names, and a mistyped one is refused
without importing a framework, torch or pandas."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mpcbench import data, parties
from mpcbench.case import MICRO
from mpcbench.errors import InputError
from mpcbench.launch import catalog, names
from mpcbench.launch.network import profiles
from tests.conftest import REPO

#: what the refusal of a bad name, and the help, must not import
HEAVY = {"torch", "pandas", "numpy", "crypten", "mpyc", "matplotlib", "mpcbench.parties.base",
         "mpcbench.models", "mpcbench.data"}


def test_each_list_is_its_registry_s(monkeypatch):
    monkeypatch.delenv(parties.PLUGINS_ENV, raising=False)
    parties.registry.cache_clear()
    try:
        assert names.FRAMEWORKS == tuple(parties.names())
    finally:
        parties.registry.cache_clear()
    assert names.MODELS == tuple(sorted({*catalog.model_names(), MICRO}))
    assert names.DATASETS == data.DATASETS
    assert names.NETWORKS == tuple(profiles.NAMED)


def test_a_plugin_s_framework_is_left_to_the_registry(monkeypatch):
    monkeypatch.delenv(parties.PLUGINS_ENV, raising=False)
    with pytest.raises(InputError, match="unknown framework 'toy'; choose one of "
                                               "complex, crypten, feedback, mpyc"):
        names.check_framework("toy")
    monkeypatch.setenv(parties.PLUGINS_ENV, "toy_frameworks")
    names.check_framework("toy")  # the registry answers when the case is made


def test_a_user_s_network_is_left_to_its_source(tmp_path):
    for reference in ("net.onnx", "pkg.mod:factory", "micro", "cnn"):
        names.check_model(reference)
    names.check_network(str(tmp_path / "campus.yaml"))
    with pytest.raises(InputError, match="unknown model 'resnet'"):
        names.check_model("resnet")
    with pytest.raises(InputError, match="unknown network profile 'wann'"):
        names.check_network("wann")


def _imported(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """``python -X importtime -m mpcbench ARGS``, and the modules it imported."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mpcbench", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:")}
    assert "mpcbench.cli.run" in modules  # the profile is read
    return proc, modules


@pytest.mark.parametrize(("args", "message"), [
    (["-f", "cryptn", "-m", "cnn"], "Invalid value for '--framework' / '-f': unknown "
                                    "framework 'cryptn'; choose one of complex, crypten"),
    (["-m", "cnnn"], "unknown model 'cnnn'; choose one of alexnet"),
    (["-d", "cifar"], "unknown dataset 'cifar'; choose one of mnist, fashion, synthetic"),
    (["--network", "wann"], "unknown network profile 'wann': use one of none, zero, lan"),
])
def test_a_mistyped_name_is_refused_before_anything_heavy_is_imported(args, message):
    proc, modules = _imported("run", *args)
    said = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
    assert proc.returncode == 2 and len(said) == 1, proc.stderr[-2000:]
    assert said[0].startswith("error: ") and message in said[0]
    assert not modules & HEAVY, sorted(modules & HEAVY)


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"]])
def test_the_help_imports_nothing_heavy(args):
    proc, modules = _imported(*args)
    assert proc.returncode == 0 and "Usage: " in proc.stdout
    assert not modules & HEAVY, sorted(modules & HEAVY)
