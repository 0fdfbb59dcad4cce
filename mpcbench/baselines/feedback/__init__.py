"""``feedback``: CNN-F, a cnn with recurrent generative feedback (:mod:`.model`), run in the
clear (:mod:`.backend`), its accuracy under noise and attacks (:mod:`.robustness`) evaluated
once per weights (:mod:`.evaluation`)."""

from .backend import FeedbackBackend

__all__ = ["FeedbackBackend"]
