"""Labels of cells: the security tag of every setting the backends declare, one series per
framework and variant across party counts, and which rows are weaker than their peers."""

from __future__ import annotations

import pandas as pd

from mpcbench.results import labels


def _cells(*rows: tuple) -> pd.DataFrame:
    """Cells from ``(framework, config, parties, provider, threshold)``, on one model."""
    frame = pd.DataFrame(rows, columns=["framework", "config", "parties", "provider",
                                        "threshold"])
    return frame.assign(model="mlp", dataset="mnist", batch=16, network="none")


MPYC = "none (PRSS/Shamir, no dealer)"


def test_security_tag_of_each_setting():
    cells = _cells(("plaintext", "", 1, "none", None),
                   ("mpyc", "variant=stock", 2, MPYC, 0),
                   ("mpyc", "variant=stock", 3, MPYC, 1),
                   ("crypten", "provider=TFP, variant=stock", 2, "TFP", 1),
                   ("crypten", "provider=TTP, variant=stock", 3, "TTP", 2),
                   ("other", "", 4, "none", 2))
    assert labels.security_tag(cells).tolist() == [
        labels.NO_MPC, labels.NO_PRIVACY, labels.HONEST_MAJORITY, labels.TFP_DEALER,
        labels.TTP_DEALER, labels.DISHONEST_MAJORITY]


def test_one_series_across_party_counts_whatever_the_threshold():
    cells = _cells(("mpyc", "variant=stock", 2, MPYC, 0),
                   ("mpyc", "variant=stock", 3, MPYC, 1),
                   ("mpyc", "variant=tuned", 2, MPYC, 0),
                   ("mpyc", "variant=tuned", 3, MPYC, 1),
                   ("crypten", "provider=TFP, variant=stock", 2, "TFP", 1),
                   ("crypten", "provider=TFP, variant=stock", 3, "TFP", 2))
    # the table keeps its labels; the figures draw three series
    assert labels.cell_label(cells).tolist() == [
        "mpyc [t=0]", "mpyc", "mpyc+tuned [t=0]", "mpyc+tuned", "crypten", "crypten"]
    assert labels.series_label(cells).tolist() == [
        "mpyc", "mpyc", "mpyc+tuned", "mpyc+tuned", "crypten", "crypten"]


def test_series_keep_the_setting_that_tells_cells_at_one_point_apart():
    cells = _cells(("crypten", "provider=TFP, variant=stock", 2, "TFP", 1),
                   ("crypten", "provider=TFP, variant=stock", 3, "TFP", 2),
                   ("crypten", "provider=TTP, variant=stock", 2, "TTP", 1),
                   ("crypten", "provider=TTP, variant=stock", 3, "TTP", 2),
                   ("mpyc", "variant=stock", 3, MPYC, 0),
                   ("mpyc", "variant=stock", 3, MPYC, 1),
                   ("mpyc", "variant=stock", 5, MPYC, 1),
                   ("mpyc", "variant=stock", 5, MPYC, 2))
    assert labels.series_label(cells).tolist() == [
        "crypten [TFP]", "crypten [TFP]", "crypten [TTP]", "crypten [TTP]",
        # t=1 and t=2 at 5 parties: the legend tells only t=0 apart, so all of it is kept
        "mpyc [t=0]", "mpyc [t=1]", "mpyc [t=1]", "mpyc [t=2]"]


def test_weaker_than_peers_only_beside_a_stronger_setting():
    cells = _cells(("mpyc", "variant=stock", 2, MPYC, 0),        # beside crypten t=1
                   ("crypten", "provider=TFP, variant=stock", 2, "TFP", 1),  # no TTP at 2
                   ("mpyc", "variant=stock", 3, MPYC, 1),
                   ("crypten", "provider=TFP, variant=stock", 3, "TFP", 2),  # beside TTP
                   ("crypten", "provider=TTP, variant=stock", 3, "TTP", 2),
                   ("mpyc", "variant=stock", 4, MPYC, 0),        # alone at 4 parties
                   ("plaintext", "", 4, "none", None))
    assert labels.weaker_than_peers(cells).tolist() == [
        True, False, False, True, False, False, False]
    elsewhere = cells.assign(model=["cnn"] + ["mlp"] * (len(cells) - 1))
    assert not labels.weaker_than_peers(elsewhere).iloc[0]  # no peer on its model
