"""Published figures: the data file validates, its Falcon and Liu et al. numbers are the
cells of the artifact's spreadsheets, its link settings are named profiles with the round
trip they state, and the report puts a published figure beside our cell of the same
network, parties, batch and link."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
import zipfile
from io import BytesIO
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mpcbench.errors import InputError
from mpcbench.launch.network import Link, get_profile
from mpcbench.report import build
from mpcbench.results import literature, store, summary
from mpcbench.results.schema import conform
from tests.unit import report_data

#: the artifact's git directory where a mirror of f7ed/hmmpc-public was fetched
MIRROR = Path("/work/.mirror/f7ed+hmmpc-public/repo")
_XLSX = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

#: Falcon, 3 parties, batch 1 (Comparison-with-Falcon.xlsx, row 14: "Round"): seconds per
#: image on LAN and WAN, MB sent by party 0
FALCON = {"secureml": (0.009, 0.532, 0.012), "sarda": (0.011, 0.535, 0.05),
          "minionn": (0.037, 2.175, 0.506)}
#: Liu et al., online, 3 parties, batch 1 (the same file, row 16: "This(3PC)")
LIU = {"secureml": (0.006, 0.37), "sarda": (0.007, 0.387), "minionn": (0.02, 1.222)}


def _by(system: str) -> dict[tuple[str, str | None], literature.Figure]:
    return {(f.model, f.link): f for f in literature.load().figures if f.system == system}


def _sheet(source: literature.Source) -> dict[str, float]:
    """Every numeric cell of the first sheet of ``source``'s workbook, read from the
    mirrored repository at the source's commit."""
    blob = subprocess.run(["git", "-C", str(MIRROR), "show", f"{source.commit}:{source.path}"],
                          capture_output=True, check=True).stdout
    sheet = ET.fromstring(zipfile.ZipFile(BytesIO(blob)).read("xl/worksheets/sheet1.xml"))
    return {c.get("r"): float(c.find(f"{_XLSX}v").text) for c in sheet.iter(f"{_XLSX}c")
            if c.get("t", "n") == "n" and c.find(f"{_XLSX}v") is not None}


def test_data_file_validates():
    lit = literature.load()
    assert {f.system for f in lit.figures} == {"falcon", "liu24"}
    assert len(lit.figures) == 12
    for fig in lit.figures:
        assert (fig.parties, fig.batch, fig.dataset) == (3, 1, "mnist")
        assert fig.cells and fig.runs == 10
        assert lit.sources[fig.source].commit == "c271a732efa25bcb0f9f82a722801b39b2d75ef1"


def test_falcon_and_liu_figures_are_the_published_ones():
    falcon, liu = _by("falcon"), _by("liu24")
    for model, (lan, wan, mb) in FALCON.items():
        assert falcon[(model, "falcon-lan")].s_per_img == lan
        assert falcon[(model, "falcon-wan")].s_per_img == wan
        assert falcon[(model, "falcon-lan")].mb_per_party == mb
        assert falcon[(model, "falcon-lan")].phase == "total"
    for model, (lan, wan) in LIU.items():
        assert liu[(model, "falcon-lan")].s_per_img == lan
        assert liu[(model, "falcon-wan")].s_per_img == wan
        assert liu[(model, "falcon-wan")].phase == "online"


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no mirror of f7ed/hmmpc-public here")
def test_every_figure_is_its_spreadsheet_cell():
    lit = literature.load()
    sheets = {name: _sheet(src) for name, src in lit.sources.items()}
    checked = 0
    for fig in lit.figures:
        for field, cell in fig.cells.items():
            assert sheets[fig.source][cell] == getattr(fig, field), (fig.model, fig.link, field)
            checked += 1
    assert checked == 6 * 4 + 6 * 7
    comparison = sheets["hmmpc-falcon"]  # Liu et al.'s online times, row 16, as the paper
    for (model, link), fig in _by("liu24").items():
        column = {"secureml": "FG", "sarda": "IJ", "minionn": "LM"}[model]
        assert comparison[f"{column[link == 'falcon-wan']}16"] == fig.s_per_img


def test_profiles_are_the_stated_settings():
    lan = get_profile("falcon-lan").link(0, 2)
    assert lan == Link(delay_s=lan.delay_s) and lan.delay_s == pytest.approx(0.13e-3)
    assert get_profile("falcon-wan").link(2, 1) == Link(delay_s=20e-3, rate_bps=100e6)
    for name, setting in literature.load().settings.items():
        link = get_profile(name).default
        assert 2 * link.delay_s * 1e3 == pytest.approx(setting.rtt_ms)
        assert link.rate_bps == (setting.rate_mbit and setting.rate_mbit * 1e6)


def test_a_broken_file_is_one_input_error(tmp_path):
    raw = yaml.safe_load(literature.PATH.read_text())
    raw["figures"][0]["system"] = "nobody"
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match="'nobody' is not defined"):
        literature.load(tmp_path / "a.yaml")
    raw = yaml.safe_load(literature.PATH.read_text())
    raw["settings"]["falcon-lan"]["rtt_ms"] = 0.13
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match="not twice one_way_ms"):
        literature.load(tmp_path / "b.yaml")


@pytest.fixture(scope="module")
def with_secureml(tmp_path_factory) -> Path:
    """The synthetic results plus a CrypTen secureml run, 3 parties, batch 1, falcon-lan."""
    results = report_data.write(tmp_path_factory.mktemp("results"))
    run = report_data._run(20, "crypten", "secureml", 3, batch=1, images=8,
                           network="falcon-lan")
    store.append(conform(run), results)
    return results


def test_report_puts_published_beside_ours(with_secureml, tmp_path):
    page = build(with_secureml, tmp_path).read_text()
    table = pd.read_csv(tmp_path / "literature.csv")
    assert sorted(table["published"]) == [
        "Falcon (total)",
        "Liu et al. (USENIX Security '24) (online; offline 0.006 s, 0.319 MB / party)"]
    assert set(zip(table["network"], table["parties"], table["batch"], strict=True)) == {
        ("secureml", 3, 1)}
    cells = summary.summary(store.load(with_secureml))
    ours = cells[(cells["model"] == "secureml") & (cells["network"] == "falcon-lan")]
    assert len(ours) == 1
    falcon = table.set_index("published").loc["Falcon (total)"]
    assert falcon["published_s_per_img"] == 0.009 and falcon["published_mb_per_party"] == 0.012
    assert falcon["our_s_per_img"] == pytest.approx(ours["s_per_img"].iloc[0])
    assert falcon["ratio"] == pytest.approx(ours["s_per_img"].iloc[0] / 0.009)
    assert falcon["our_mb_per_party"] == pytest.approx(
        ours["mib_per_img"].iloc[0] * 2**20 / 1e6 / 3)
    assert falcon["setting"] == "falcon-lan (RTT 0.26 ms)"
    assert "Tables/Comparison-with-Falcon.xlsx@c271a73, cells F14, F13, H14, H13" in \
        falcon["source"]
    assert "ours: bench-host (the launcher's host): Example CPU @ 2.0GHz, 2 cores" in \
        falcon["hardware"]
    assert falcon["counted"].endswith("ours: the slowest party's share + infer + reveal, "
                                      "median of 3 repeats")
    assert "ours: arithmetic secret sharing, t=2" in falcon["protocol"]
    ratio = f"{ours['s_per_img'].iloc[0] / 0.009:.3g}\N{MULTIPLICATION SIGN}"
    assert 'id="table-literature"' in page and ratio in page
    assert "Comparison-with-Falcon.xlsx" in page and "No cell of these results" not in page
    waiting = pd.read_csv(tmp_path / "literature_pending.csv")
    assert ("secureml", "falcon-lan (RTT 0.26 ms)") not in set(
        zip(waiting["network"], waiting["setting"], strict=True))
    assert "mpcbench run -f crypten -m secureml -d mnist -n 3 --batch 1 --network falcon-wan" \
        in set(waiting["command"])


def test_report_without_matching_cells_says_what_it_would_compare(tmp_path):
    store.append(report_data.synthetic()[3], tmp_path / "r")  # crypten mlp, 3 parties
    page = build(tmp_path / "r", tmp_path / "out").read_text()
    assert "No cell of these results has the network, parties, batch and link" in page
    assert pd.read_csv(tmp_path / "out" / "literature.csv").empty
    waiting = pd.read_csv(tmp_path / "out" / "literature_pending.csv")
    assert len(waiting) == 6 and set(waiting["network"]) == {"secureml", "sarda", "minionn"}
    assert "--network falcon-lan" in page
