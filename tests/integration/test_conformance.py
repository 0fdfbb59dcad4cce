"""The conformance battery: what every registered MPC backend promises, on real runs.

Frameworks come from the registry (every backend of kind ``mpc``, those of the packages
named in ``MPCBENCH_PLUGINS`` included), party counts from what each declares (2 and 3,
within ``min_parties .. max_parties``; they take its variants in turn, default first), and
a case that needs a capability runs only for backends that have it. No framework is
named here.

One run per (framework, parties) serves most cases: the mlp on :data:`IMAGES` images in
two batches, with roles where the backend takes them (party 1 owns the model, every other
party images, each learning its own images' logits), its model shares saved where it has
:class:`~mpcbench.parties.capabilities.ShareFiles`, and every party started through a
wrapper that records the modules it imported. Other cases run what they are about: a
party killed, a reload from shares, refused options (no run), emulated hosts, sixteen
parties.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mpcbench import data, injection, models, parties, results
from mpcbench.case import Case, Inference
from mpcbench.errors import InputError
from mpcbench.launch import placement, record, workloads
from mpcbench.launch.liveness import SILENT_S
from mpcbench.launch.local import LaunchError
from mpcbench.launch.runner import run_case
from mpcbench.models import plain
from mpcbench.parties import shares
from mpcbench.parties.base import Backend, Kind
from mpcbench.parties.capabilities import ShareFiles, ValueRange
from mpcbench.results.summary import summary
from mpcbench.roles import Roles, owned
from tests.conftest import ONCE, REPO, capture_results, nothing_left, party_processes, run_cli
from tests.integration.conftest import once

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: test images of every run, in batches of BATCH (two: each data owner's share of a batch
#: and the reassembly across batches are exercised)
IMAGES = 8
BATCH = 4
#: largest difference of a logit from plaintext's (an encoding with 7 fractional bits needs 0.5)
LOGIT_TOL = 0.5
#: bytes of a transport's control messages that may land in the phase after the one that
#: sent them, per ordered pair of parties (measured: under 256)
CONTROL_BYTES = 256
#: the phases of a repeat of secure inference, ``total`` last
PHASES = ["share", "infer", "reveal", "total"]
OFFLINE = ["bytes_sent_offline", "bytes_received_offline"]
#: what a party never imports, whatever its framework
ALWAYS_FOREIGN = ("mpcbench.baselines", "mpcbench.report", "mpcbench.results",
                  "mpcbench.launch", "mpcbench.cli", "pandas", "seaborn")
#: runs the party program like ``python -m`` from this checkout, then writes the modules it
#: had imported (as it ends: a party that has reported ends with ``os._exit``)
_WRAPPER = f"""
import os, runpy, sys
sys.path.insert(0, {str(REPO)!r})
out = sys.argv[1]
end = os._exit
os._exit = lambda code: (open(out, "w").write("\\n".join(sorted(sys.modules))), end(code))
sys.argv = [sys.argv[3], *sys.argv[4:]]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def _mpc() -> list[str]:
    return [name for name, kind in parties.kinds().items() if kind is Kind.MPC]


def party_counts(backend: type[Backend]) -> list[int]:
    """The party counts the battery runs ``backend`` with."""
    return ([n for n in (2, 3) if backend.min_parties <= n <= backend.max_parties]
            or [backend.min_parties])


def _frameworks(keep: Callable[[type[Backend]], bool] = lambda backend: True) -> list[str]:
    """Every MPC framework whose backend ``keep`` takes."""
    return [name for name in _mpc() if keep(parties.get(name))]


def protocols_at(backend: type[Backend], n: int) -> list[str | None]:
    """The protocols the battery runs ``backend`` with at ``n`` parties: each that runs
    with ``n`` parties (the default only, ``None``, for a backend without protocols)."""
    return backend.protocols_for(n) or [None]


def _runs(keep: Callable[[type[Backend]], bool] = lambda backend: True) -> list:
    """``(framework, parties, protocol)`` of every battery run of a backend that ``keep``
    takes."""
    return [pytest.param(name, n, p, id=f"{name}-{n}" + (f"-{p}" if p else ""))
            for name in _frameworks(keep) for n in party_counts(parties.get(name))
            for p in protocols_at(parties.get(name), n)]


def _backend(framework: str) -> type[Backend]:
    """The backend of ``framework``; the test is skipped where it cannot run."""
    backend = parties.get(framework)
    if why := backend.available():
        pytest.skip(f"{framework} is not available here: {why}")
    return backend


def _case(backend: type[Backend], n: int, protocol: str | None = None, **fields) -> Case:
    """The battery's case of ``backend`` at ``n`` parties (with ``protocol``, if given)."""
    counts = party_counts(backend)
    options = ({"variant": backend.variants[counts.index(n) % len(backend.variants)]}
               if backend.variants and n in counts else {})
    if protocol:
        options["protocol"] = protocol
    return Case(backend.name, "mlp", parties=n, images=IMAGES, batch=BATCH, options=options,
                **fields)


def _owners_roles(n: int) -> Roles:
    """Party 1 owns the model, every other party images; each learns its own logits."""
    return Roles(model_owner=1, data_owners=tuple(r for r in range(n) if r != 1))


def _plain() -> torch.Tensor:
    """Plaintext logits of the battery's images."""
    x, _ = data.load("mnist", "test", limit=IMAGES)
    return plain.evaluate(models.graph("mlp", "mnist"), x)


@dataclass(frozen=True)
class Run:
    """A battery run: its case, stored rows, every party's result line, the modules each
    party imported and the directory of its saved model shares (if any)."""

    case: Case
    rows: pd.DataFrame
    outputs: list[dict]
    imported: list[set[str]]
    shares: Path | None

    @cached_property
    def party(self) -> pd.DataFrame:
        """The parties' rows."""
        return self.rows[self.rows["rank"] >= 0]

    @cached_property
    def metrics(self) -> pd.Series:
        """The run-level metrics."""
        return self.rows[self.rows["rank"] == -1].set_index("metric")["value"]

    @cached_property
    def logits(self) -> np.ndarray:
        """Every image's logits, reassembled from what the parties learnt."""
        return record.assemble_logits(self.outputs, IMAGES)

    def per_phase(self, metric: str) -> pd.Series:
        """``metric`` summed over the parties, by ``(repeat, phase)``."""
        sel = self.party[(self.party["metric"] == metric) & self.party["phase"].isin(PHASES)]
        return sel.groupby(["repeat", "phase"])["value"].sum()


def _measure(base: Path, framework: str, n: int, protocol: str | None) -> Run:
    backend = _backend(framework)
    case = _case(backend, n, protocol,
                 roles=_owners_roles(n) if backend.takes_roles else Roles())
    dumps = base / "modules"
    dumps.mkdir()
    wrapper = base / "wrapper.py"
    wrapper.write_text(_WRAPPER)
    place = placement.templated(
        ["127.0.0.1"], f"cd {REPO} && {sys.executable} {wrapper} {dumps}/party-$$ {{worker}}")
    saved = base / "shares" if issubclass(backend, ShareFiles) else None
    with pytest.MonkeyPatch.context() as mp:
        seen = capture_results(mp)
        result = run_case(case, base / "results", timeout_s=240, place=place,
                          save_shares=saved)
    imported = [set(p.read_text().split()) for p in sorted(dumps.iterdir())]
    return Run(case, result.rows, seen[0], imported, saved)


@pytest.fixture(scope="module")
def battery_run(tmp_path_factory) -> Callable[[str, int, str | None], Run]:
    """``(framework, parties, protocol) ->`` the battery's run of them (one for the whole
    module; a run that failed fails every case that reads it, without running again)."""
    return once(lambda framework, n, protocol: _measure(
        tmp_path_factory.mktemp(f"{framework}{n}{protocol or ''}"), framework, n, protocol))


@pytest.mark.parametrize(("framework", "n", "protocol"), _runs())
def test_agrees_with_plaintext(battery_run, framework, n, protocol):
    run = battery_run(framework, n, protocol)
    assert set(run.rows["status"]) == {"ok"}
    assert sorted(run.party["rank"].unique()) == list(range(n))
    assert run.metrics["agreement"] == 1.0
    assert run.metrics["max_abs_err"] <= LOGIT_TOL
    assert run.metrics["accuracy"] == run.metrics["plain_accuracy"]
    checked = json.loads(run.rows["backend_config"].iloc[0])["range"]
    if issubclass(parties.get(framework), ValueRange):
        assert checked["margin_bits"] > 0 and checked["images"] == IMAGES
    else:
        assert checked is None


@pytest.mark.parametrize(("framework", "n", "protocol"), _runs())
def test_every_phase_sends_what_it_receives(battery_run, framework, n, protocol):
    """Over all parties, the bytes sent in each repeat are the bytes received in it
    (barrier traffic is not counted), and ``total`` is exactly its phases. In each inner
    phase too, but for :data:`CONTROL_BYTES` per pair of parties: a transport's small
    control messages at the end of a collective can reach a party after it closed the
    phase, and are credited to the phase it closes next."""
    run = battery_run(framework, n, protocol)
    sent, received = run.per_phase("bytes_sent"), run.per_phase("bytes_received")
    pd.testing.assert_series_equal(sent.xs("total", level="phase"),
                                   received.xs("total", level="phase"), check_names=False)
    assert ((sent - received).abs() <= CONTROL_BYTES * n * (n - 1)).all(), (sent, received)
    inner = sent.drop("total", level="phase").groupby(level="repeat").sum()
    pd.testing.assert_series_equal(inner, sent.xs("total", level="phase"), check_names=False)


@pytest.mark.parametrize(("framework", "n", "protocol"), _runs())
def test_uncounted_metrics_are_missing_not_zero(battery_run, framework, n, protocol):
    """Every party's traffic is counted (or estimated); rounds are counted everywhere or
    missing everywhere, never 0 where bytes moved; without a dealer the offline bytes are
    a measured 0."""
    run = battery_run(framework, n, protocol)
    party = run.party[run.party["phase"].isin(PHASES)]
    assert set(party["comm_method"]) <= {"counted", "estimated"}
    wide = party.set_index(["rank", "repeat", "phase", "metric"])["value"].unstack("metric")
    moved = (wide["bytes_sent"] + wide["bytes_received"]) > 0
    assert moved.groupby(level="rank").any().all(), wide
    rounds = wide["rounds"]
    assert rounds.isna().all() or rounds.notna().all(), rounds
    assert (rounds[moved].isna() | (rounds[moved] > 0)).all(), rounds
    assert workloads.of(run.case, parties.get(framework)).dealers == 0
    assert (wide[OFFLINE] == 0).all().all()
    cell = summary(run.rows).iloc[0]
    assert cell["offline_mib_per_img"] == 0 and pd.isna(cell["dealer_rss_mib"])
    assert cell["online_mib_per_img"] == cell["mib_per_img"] > 0


@pytest.mark.parametrize(("framework", "n", "protocol"), _runs())
def test_time_and_memory_are_measured_per_phase(battery_run, framework, n, protocol):
    run = battery_run(framework, n, protocol)
    party = run.party[run.party["phase"].isin(PHASES)]
    assert (party.loc[party["metric"] == "wall_s", "value"] > 0).all()
    rss = party[party["metric"] == "peak_rss_bytes"]
    assert (rss["value"] > 20 * 2**20).all()  # a Python process with numpy, read exactly
    peak = rss.groupby(["rank", "repeat", "phase"])["value"].first().unstack("phase")
    assert (peak["total"] >= peak[["share", "infer", "reveal"]].max(axis=1)).all()
    assert set(run.rows["source"].dropna()) == {"measured"}
    assert set(run.rows["oversubscribed"]) == {n > (os.cpu_count() or 1)}


@pytest.mark.parametrize(("framework", "n", "protocol"), _runs(lambda backend: backend.takes_roles))
def test_each_data_owner_learns_only_its_own_logits(battery_run, framework, n, protocol):
    run = battery_run(framework, n, protocol)
    plain = _plain()
    owners = run.case.roles.data_owners
    learnt = []
    for rank, out in enumerate(run.outputs):
        images = out["logit_images"]
        assert images == owned(run.case.roles, rank, IMAGES, BATCH), rank
        if rank not in owners:
            assert out["logits"] is None  # the model owner learns no logits
            continue
        mine = torch.tensor(out["logits"], dtype=torch.float64)
        assert (mine.argmax(1) == plain[images].argmax(1)).all(), rank
        learnt += images
    assert sorted(learnt) == list(range(IMAGES))  # every image once, to its owner
    party_roles = run.party.groupby("rank")["role"].unique()
    assert {r: list(v) for r, v in party_roles.items()} == {
        r: ["model_owner" if r == 1 else "data_owner+output"] for r in range(n)}
    assert run.rows.loc[run.rows["rank"] < 0, "role"].isna().all()
    label = "+".join(map(str, owners))
    assert set(run.rows["data_owners"]) == {",".join(map(str, owners))}
    assert set(run.rows["model_owner"]) == {1} and set(run.rows["output"]) == {"owners"}
    assert set(run.rows["case_id"]) == {f"{framework}/mlp(dataset=mnist,n={n},b={BATCH},"
                                        f"mo=1,do={label},out=owners)"}


def _home(backend: type[Backend]) -> str:
    """The module or subpackage that holds ``backend`` (``mpcbench.parties.<name>``)."""
    module = backend.__module__.split(".")
    return ".".join(module[:module.index(backend.name) + 1])


@pytest.mark.parametrize(("framework", "n", "protocol"), _runs())
def test_a_party_imports_only_its_own_framework(battery_run, framework, n, protocol):
    """Nothing of another backend, of the launcher or the results, and no package another
    backend declares in ``imports`` unless its own declares it too."""
    run = battery_run(framework, n, protocol)
    own = parties.get(framework)
    others = [b for b in parties.registry().values() if b is not own]
    foreign = {*ALWAYS_FOREIGN, *(_home(b) for b in others),
               *(b.name for b in others),  # a framework package named as its backend
               *(p for b in others for p in b.imports)} - set(own.imports)
    assert len(run.imported) == n
    for loaded in run.imported:
        assert _home(own) in loaded
        wrong = sorted(m for m in loaded if m in foreign or m.startswith(
            tuple(f"{f}." for f in foreign)))
        assert not wrong, f"a {framework} party imported {wrong}"


@pytest.mark.parametrize(("framework", "n", "protocol"),
                         _runs(lambda b: issubclass(b, ShareFiles)))
def test_saved_shares_reload_in_new_parties_to_the_same_logits(
        tmp_path, battery_run, party_results, framework, n, protocol):
    """New parties load the shares the battery run saved; no party reads the weights.

    The loading parties hold the very fixed-point shares the saving run used, with fresh
    randomness for the rest: their logits are within twice the saving run's own error
    against plaintext, with the same predicted classes."""
    first = battery_run(framework, n, protocol)
    manifest = json.loads((first.shares / shares.MANIFEST).read_text())
    assert sorted(manifest["files"]) == [str(r) for r in range(n)]
    assert manifest["set_id"] == first.rows["run_id"].iloc[0]
    assert manifest["source"]["weights"]["mlp-mnist"] == models.weights_info(
        "mlp", "mnist").sha256
    case = replace(first.case, workload=Inference(str(first.shares)))
    rows = run_case(case, tmp_path, timeout_s=240).rows
    assert set(rows["status"]) == {"ok"}
    logits = record.assemble_logits(party_results[-1], IMAGES)
    assert (logits.argmax(1) == first.logits.argmax(1)).all()
    assert np.abs(logits - first.logits).max() <= 2 * first.metrics["max_abs_err"]
    # the share set is the run's identity and shown on its rows; no plaintext weights
    digest = shares.sha256(first.shares / shares.MANIFEST)
    assert set(rows["model_shares"]) == {digest}
    assert rows["weights_sha256"].isna().all()
    assert json.loads(rows["identity"].iloc[0])["weights"] == {"mlp-mnist-shares": digest}
    assert rows["case_fingerprint"].iloc[0] != first.rows["case_fingerprint"].iloc[0]
    run = rows[rows["rank"] == -1].set_index("metric")["value"]
    assert run["accuracy"] >= 0.75 and "agreement" not in run
    assert not party_processes(str(tmp_path))


@pytest.mark.parametrize("framework", _frameworks())
def test_a_killed_party_is_named_within_10_s_and_nothing_is_left(
        tmp_path, monkeypatch, framework):
    """Party 1 is SIGKILLed after its first batch's inference; the run fails naming it."""
    backend = _backend(framework)
    n = party_counts(backend)[0]
    log = tmp_path / "injected"
    monkeypatch.setenv(injection.ENV, injection.spec("infer", 1, "crash"))
    monkeypatch.setenv(injection.LOG_ENV, str(log))
    with pytest.raises(LaunchError) as failed:
        run_case(_case(backend, n), tmp_path / "r", timeout_s=120)
    took = time.time() - float(log.read_text().split()[-1])
    assert f"party 1 of {n} ({framework}) was killed by SIGKILL" in str(failed.value)
    assert took < 10, f"named {took:.1f} s after the kill"
    nothing_left(str(tmp_path))
    stored = results.load(tmp_path / "r")
    assert stored["status"].tolist() == ["failed"] and "party 1" in stored["error"].iloc[0]


@pytest.mark.parametrize("framework", _frameworks())
def test_bad_options_are_refused_before_launch(tmp_path, framework):
    """Party counts outside the declared span (the backend's, or a protocol's), an
    unknown option, an unknown variant, provider or protocol, and roles the backend does
    not take: refused, with nothing stored."""
    backend = _backend(framework)
    n = party_counts(backend)[0]
    bad = [Case(framework, "mlp", parties=backend.min_parties - 1),
           Case(framework, "mlp", parties=backend.max_parties + 1),
           Case(framework, "mlp", parties=n, options={"no_such_option": 1})]
    bad += [Case(framework, "mlp", parties=n, options={option: "no_such_value"})
            for option, values in (("variant", backend.variants),
                                   ("provider", backend.providers),
                                   ("protocol", backend.protocols)) if values]
    bad += [Case(framework, "mlp", parties=m, options={"protocol": p})  # outside its span
            for p, (fewest, most) in backend.protocols.items() for m in (fewest - 1, most + 1)
            if backend.min_parties <= m <= backend.max_parties]
    if not backend.takes_roles:
        bad.append(Case(framework, "mlp", parties=n, roles=Roles(model_owner=1)))
    for case in bad:
        with pytest.raises(InputError):
            run_case(case, tmp_path / "r")
        assert not (tmp_path / "r").exists(), case  # nothing launched, nothing stored


@pytest.mark.usefixtures("no_emulated_hosts_left")
@pytest.mark.parametrize("framework", _frameworks())
def test_every_party_on_its_own_emulated_host(tmp_path, framework):
    """Each party listens on its own host's address (an emulated LAN), not loopback."""
    backend = _backend(framework)
    n = party_counts(backend)[-1]
    rows = run_case(_case(backend, n, network="lan"), tmp_path, timeout_s=240).rows
    run = rows[rows["rank"] == -1].set_index("metric")["value"]
    assert run["agreement"] == 1.0
    hosts = rows[rows["rank"] >= 0].groupby("rank")["host"].first().tolist()
    assert len(set(hosts)) == n and all(h.startswith("mpcb") for h in hosts)
    assert set(rows["network"]) == {"lan"}
    config = json.loads(rows["backend_config"].iloc[0])["placement"]
    assert config["kind"] == "emulated" and config["network"]["profile"]["name"] == "lan"
    assert {a["address"] for a in config["network"]["hosts"]} == {
        f"198.18.0.{r + 1}" for r in range(n)}


@pytest.mark.slow
@pytest.mark.parametrize("framework", _frameworks(lambda backend: backend.max_parties >= 16))
def test_sixteen_parties_complete_and_agree_with_plaintext(tmp_path, framework):
    """Sixteen parties on this machine's cores: every party stays alive however slowly it
    is scheduled (the heavier sixteen-party measurements: benchmarks/network16.yaml)."""
    _backend(framework)
    proc = run_cli("run", *ONCE, "-f", framework, "-m", "mlp", "-n", "16", "--images", "2",
                   "--batch", "2", "-r", str(tmp_path), timeout=280)
    assert proc.returncode == 0, proc.stderr
    df = results.load(tmp_path)
    assert df["status"].unique().tolist() == ["ok"]
    assert sorted(df.loc[df["rank"] >= 0, "rank"].unique()) == list(range(16))
    run = df[df["rank"] == -1].set_index("metric")["value"]
    assert run["agreement"] == 1.0
    liveness = json.loads(df["backend_config"].iloc[0])["liveness"]
    assert len(liveness) == 16
    # every party beat throughout, however loaded the cores (the load is recorded)
    assert max(p["longest_beat_gap_s"] for p in liveness) < SILENT_S
    assert all(p["max_load"] is not None and p["cores"] >= 1 for p in liveness)
    assert party_processes(str(tmp_path)) == []
