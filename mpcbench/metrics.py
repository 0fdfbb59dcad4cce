"""Metric names and units shared by the party processes, the results schema and the report.

Kept free of heavy imports: party processes import it without pandas.
"""

#: measured inside every party, per phase and repeat
RANK_METRICS = {
    "wall_s": "s",
    "cpu_s": "s",
    "peak_rss_bytes": "B",
    "bytes_sent": "B",
    "bytes_received": "B",
    "rounds": "count",
    #: the part of bytes_sent / bytes_received exchanged with a dealer (offline traffic;
    #: 0 without a dealer, missing where not told apart)
    "bytes_sent_offline": "B",
    "bytes_received_offline": "B",
}

#: computed by the launcher for the whole run (rank = -1)
RUN_METRICS = {
    "accuracy": "ratio",
    "plain_accuracy": "ratio",
    "agreement": "ratio",
    "max_abs_err": "logit",
    "img_per_s": "img/s",
    "s_per_img": "s",
}

PHASES = ("setup", "share", "infer", "reveal", "total")
#: the one phase of a dealer process after its setup: serving the computing parties
DEAL = "deal"
#: the role of a dealer's rows
DEALER = "dealer"
