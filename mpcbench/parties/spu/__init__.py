"""SPU: SecretFlow's secure processing unit (:mod:`.backend`), the layer graph as the jax
program it compiles (:mod:`.program`) and its links between the parties (:mod:`.links`)."""

from .backend import SpuBackend

__all__ = ["SpuBackend"]
