"""Normalising a call list's numbers in bulk: each distinct value once, and on every
core (worker processes) for a big list, since phonenumbers takes ~20 us a number."""

from __future__ import annotations

import itertools
import os
from concurrent.futures import Executor
from contextlib import ExitStack

from campaigns.phones import try_phone

PARALLEL_MIN = 100_000  # rows from which worker processes pay for themselves


def process_pool(stack: ExitStack) -> Executor | None:
    """Worker processes for normalising a big list, shut down with `stack`."""
    workers = _workers()
    if workers < 2:
        return None
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may be a threaded web server or worker
    return stack.enter_context(ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")))


def _workers() -> int:
    return min(os.cpu_count() or 1, 8)


def normalise_all(values: list[str], region: str,
                  pool: Executor | None = None) -> list[tuple[bool, str]]:
    """(ok, E.164 or reason) for each value; on every core for a big list (phonenumbers
    takes ~20 us a number), in `pool` when the caller keeps one across chunks."""
    if pool is None and len(values) >= PARALLEL_MIN and _workers() >= 2:
        with ExitStack() as stack:
            return normalise_all(values, region, process_pool(stack))
    if pool is None or len(values) < 1000:
        return [try_phone(v, region) for v in values]
    chunks = _chunks(values, len(values) // (_workers() * 4) + 1)
    return [r for chunk in pool.map(_try_phones, chunks, itertools.repeat(region))
            for r in chunk]


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i:i + size] for i in range(0, len(values), size)]


def _try_phones(values: list[str], region: str) -> list[tuple[bool, str]]:
    return [try_phone(v, region) for v in values]
