"""Seeding, devices, checkpoints and torchrun: what the trainer's other modules share."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ._torch import import_torch

import_torch()  # OMP_WAIT_POLICY before torch loads; without torch, the [train] hint

import torch  # noqa: E402


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (every device's) with ``seed``."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds CUDA's generators


def resolve_device(name: str) -> Any:
    """Return the torch device for ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    ``auto`` is CUDA when a GPU is there, else the CPU; under torchrun each process takes the
    GPU of its ``LOCAL_RANK``. ModelError for CUDA asked for where there is none.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError(f"--device {name}: no CUDA device is available here "
                             f"(torch {torch.__version__}); use --device cpu or auto")
        if name == "cuda" and "LOCAL_RANK" in os.environ:
            name = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    elif name != "cpu":
        raise ModelError(f"--device {name}: use auto, cpu, cuda or cuda:N")
    return torch.device(name)


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` ``obj`` to ``path`` through a temporary file and a rename."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, temporary)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def load_file(path: Path) -> Any:
    """Return what :func:`save_atomic` wrote at ``path`` (tensors, numbers, strings, dicts)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # a truncated or foreign file: torch raises many kinds
        raise ModelError(f"{path}: not a model file customlabels wrote ({exc})") from None


class Distributed:
    """The process group of a run under ``torchrun`` (one process a GPU or CPU share).

    Outside torchrun (no ``WORLD_SIZE`` in the environment) this is one process: rank 0 of 1,
    and every method is a no-op. Under torchrun it joins the group: NCCL on CUDA, gloo on the
    CPU.
    """

    def __init__(self, device: Any):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.active = self.world > 1
        if self.active and not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend=backend)

    @property
    def main(self) -> bool:
        """Tell whether this process writes the files and draws the progress (rank 0)."""
        return self.rank == 0

    def wrap(self, model: Any, device: Any) -> Any:
        """Return ``model`` wrapped in DistributedDataParallel (itself outside torchrun)."""
        if not self.active:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def total(self, values: list[float]) -> list[float]:
        """Return ``values`` summed over every process."""
        if not self.active:
            return values
        tensor = torch.tensor(values, dtype=torch.float64)
        torch.distributed.all_reduce(tensor)
        return [float(v) for v in tensor.tolist()]

    def agree(self, flag: bool) -> bool:
        """Return whether any process says ``flag`` (to stop together)."""
        return bool(self.total([1.0 if flag else 0.0])[0]) if self.active else flag

    def share(self, value: Any) -> Any:
        """Return rank 0's ``value`` in every process (``value`` itself outside torchrun)."""
        if not self.active:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.active and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
