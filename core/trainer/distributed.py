"""Data-parallel training under ``torchrun``, with no change to the model or the command.

``torchrun --nproc_per_node=N tools/train.py ...`` starts N processes; each
reads its rank from the environment, joins a process group (gloo on the CPU,
nccl on CUDA), wraps the model in ``DistributedDataParallel`` and trains on its
own share of each global batch. Gradients are averaged across processes, so
N processes with batch size B take the same steps as one process with batch
size N*B. Only rank 0 writes logs, checkpoints and files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Distributed:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    _owns_group: bool = False

    @classmethod
    def from_environment(cls) -> Distributed:
        env = os.environ
        return cls(int(env.get("WORLD_SIZE", 1)), int(env.get("RANK", 0)), int(env.get("LOCAL_RANK", 0)))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """One GPU per process: ``cuda`` becomes ``cuda:LOCAL_RANK``."""
        if self.enabled and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device

    def start(self, device: torch.device) -> None:
        if not self.enabled or torch.distributed.is_initialized():
            return
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        self._owns_group = True

    def wrap(self, model: nn.Module, device: torch.device, manual: bool) -> nn.Module:
        """The module to call in training: ``DistributedDataParallel(model)`` in automatic mode.

        A manual-mode model calls its parts as it likes (a GAN's generator and
        critic), which DDP's forward-bound hooks cannot follow; it stays
        unwrapped, starts from rank 0's parameters, and the trainer averages
        each optimiser's gradients across processes at its step instead.
        """
        if not self.enabled:
            return model
        if manual:
            self.broadcast(model)
            return model
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    @staticmethod
    def broadcast(model: nn.Module) -> None:
        """Every process takes rank 0's parameters and buffers."""
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                torch.distributed.broadcast(tensor, src=0)

    def average_gradients(self, params: list[nn.Parameter]) -> None:
        """Mean of each gradient over the processes, in one all-reduce (a missing gradient counts as zero)."""
        grads = []
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def stop(self) -> None:
        if self._owns_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
            self._owns_group = False
