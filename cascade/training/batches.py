"""Deterministic, resumable data order: the batch at (step, micro-step, rank) is a pure function of the seed.

Order: every epoch is a fresh permutation of the dataset (seeded by (seed, epoch)); the global stream of
positions is laid out step by step, then micro-step, then rank, then sample. So at a fixed world size,
batch size and grad_accum, each rank sees disjoint samples, every sample is seen once per epoch, and a
resumed run fetches exactly the batches the uninterrupted run would have: no DataLoader state to save.
Noise for the loss comes from a generator seeded by (seed, step, rank, micro-step) in the same way.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import torch


def mix_seed(*parts: object) -> int:
    """A stable 63-bit seed from any parts (same on every machine and Python run, unlike hash())."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class BatchOrder:
    """Which dataset indices make the micro-batch at (step, micro, rank); steps count from 1."""

    def __init__(self, num_items: int, batch_size: int, *, seed: int, world_size: int = 1, grad_accum: int = 1):
        if num_items < 1:
            raise ValueError("the dataset is empty")
        self.n, self.batch_size, self.seed = num_items, batch_size, seed
        self.world_size, self.grad_accum = world_size, grad_accum
        self._perm_epoch, self._perm = -1, None

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:
            gen = torch.Generator().manual_seed(mix_seed(self.seed, "epoch", epoch))
            self._perm, self._perm_epoch = torch.randperm(self.n, generator=gen), epoch
        return self._perm

    def indices(self, step: int, micro: int, rank: int) -> list[int]:
        slot = ((step - 1) * self.grad_accum + micro) * self.world_size + rank
        out = []
        for pos in range(slot * self.batch_size, (slot + 1) * self.batch_size):
            epoch, offset = divmod(pos, self.n)
            out.append(int(self._permutation(epoch)[offset]))
        return out

    def epoch(self, step: int) -> float:
        """Epochs completed by the end of `step` (all ranks together)."""
        return step * self.grad_accum * self.world_size * self.batch_size / self.n


def loss_generator(seed: int, step: int, rank: int, micro: int, device: torch.device) -> torch.Generator:
    """The generator handed to task.loss for one micro-batch."""
    return torch.Generator(device=device).manual_seed(mix_seed(seed, "loss", step, rank, micro))


class BatchSource:
    """Fetches (dataset[i] for the indices) and collates; with workers, prefetches upcoming micro-batches in threads."""

    def __init__(self, dataset: Any, collate: Callable[[list], Any], order: BatchOrder, rank: int,
                 num_workers: int = 0, prefetch: int = 2):
        self.dataset, self.collate, self.order, self.rank = dataset, collate, order, rank
        self.prefetch = max(1, prefetch) * order.grad_accum
        self._pool = ThreadPoolExecutor(num_workers, thread_name_prefix="cascade-batches") if num_workers else None
        self._pending: dict[tuple[int, int], Future] = {}
        self.last_indices: list[int] = []

    def _load(self, idx: list[int]) -> tuple[list[int], Any]:
        return idx, self.collate([self.dataset[i] for i in idx])

    def _submit(self, step: int, micro: int) -> Future:
        # indices are drawn here, in the training thread; workers only read items and collate
        return self._pool.submit(self._load, self.order.indices(step, micro, self.rank))

    def get(self, step: int, micro: int) -> Any:
        if self._pool is None:
            self.last_indices, batch = self._load(self.order.indices(step, micro, self.rank))
            return batch
        future = self._pending.pop((step, micro), None) or self._submit(step, micro)
        for key in self._upcoming(step, micro):
            if key not in self._pending:
                self._pending[key] = self._submit(*key)
        self.last_indices, batch = future.result()
        return batch

    def _upcoming(self, step: int, micro: int):
        for _ in range(self.prefetch):
            micro += 1
            if micro == self.order.grad_accum:
                step, micro = step + 1, 0
            yield step, micro

    def close(self) -> None:
        if self._pool is not None:
            for f in self._pending.values():
                f.cancel()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pending.clear()
