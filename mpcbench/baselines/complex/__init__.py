"""``complex``: a complex-valued cnn that hides its features from the server by a secret
rotation (:mod:`.model`), run as client and server (:mod:`.backend`), attacked by feature
inversion (:mod:`.inversion`) and evaluated once per weights (:mod:`.evaluation`)."""

from .backend import ComplexBackend

__all__ = ["ComplexBackend"]
