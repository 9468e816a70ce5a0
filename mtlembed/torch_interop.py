"""Trained vectors in torch without a copy (DLPack), and as an `nn.Embedding` indexed like the vocabulary.

torch is the optional `[torch]` extra: without it, each function raises one MissingDependencyError that
names the extra. Embeddings.to_torch and Embeddings.to_torch_embedding call these.
"""

from __future__ import annotations

from .model import _optional


def as_tensor(array, device: str | None = None):
    """A torch tensor over `array`'s memory, without a copy, through DLPack: a numpy array gives a CPU
    tensor whose writes are the array's; a GPU array from any DLPack producer (CuPy, JAX, another
    framework's tensor) gives a tensor on that GPU, still without a copy (this path is torch's own
    `from_dlpack`; it is not tested here, where there is no GPU). With `device`, the tensor is moved
    there, which copies only if it lives elsewhere."""
    with _optional("torch"):
        import torch

    tensor = torch.from_dlpack(array)
    return tensor if device is None else tensor.to(device)


def embedding_layer(vectors, freeze: bool = True, device: str | None = None):
    """A `torch.nn.Embedding` whose row i is row i of `vectors` (for Embeddings: row `index[word]`),
    sharing its memory (as_tensor). With freeze=False, training the layer on the CPU updates
    `vectors` in place."""
    with _optional("torch"):
        import torch

    return torch.nn.Embedding.from_pretrained(as_tensor(vectors, device), freeze=freeze)
