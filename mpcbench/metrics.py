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

#: computed by the launcher for a secure training run (rank = -1): per step (``repeat`` =
#: step) the loss opened to the model owner and plaintext SGD's loss on the same batch;
#: per run the median time per step (slowest party), the time per epoch (``source``
#: ``measured`` if the run covered an epoch, else ``extrapolated`` from the steps), the
#: same for plaintext SGD timed in the same run, and their ratio
TRAIN_METRICS = {
    "loss": "nat",
    "plain_loss": "nat",
    "s_per_step": "s",
    "plain_s_per_step": "s",
    "s_per_epoch": "s",
    "plain_s_per_epoch": "s",
    "slowdown": "ratio",
}

#: the phase of one secure training step (``repeat`` = step index)
TRAIN_STEP = "train_step"

PHASES = ("setup", "share", "infer", "reveal", "total")
#: the one phase of a dealer process after its setup: serving the computing parties
DEAL = "deal"
#: the role of a dealer's rows
DEALER = "dealer"
