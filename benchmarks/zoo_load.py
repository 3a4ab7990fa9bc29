"""What does loading by name, with every check, cost over loading the file by hand?

For each shipped entry, two ways to get the same model:

* ``by_hand``  - build the module from its known config, then
  ``safetensors.torch.load_file`` + ``load_state_dict`` (no checks at all);
* ``dpzoo``    - ``dpzoo.create_model(name, pretrained=True)``: name lookup and
  index validation, the file read once (each piece hashed as it lands), its
  size and full sha256 checked, the header validated, the card read and
  checked (name, arch, its ``weights_sha256`` against the index row's), names,
  shapes and dtypes compared with the architecture, the tensors built over the
  same bytes.

Three conditions, both arms timed side by side in one process, interleaved
over rounds; each figure is the median round, and the ratio is dpzoo's median
over by_hand's:

* ``warm``  - each round times ``--loads`` loads in a row: the file is in the
  page cache and dpzoo remembers the parsed header per file sha256 (it still
  reads and hashes the whole file on every load).
  (The index row records the card's ``weights_sha256``, so no condition hashes the
  tensors a second time; ``dpzoo zoo verify`` does, see docs/zoo-trust.md.)
* ``cold``  - one load per round with nothing remembered: before each load
  (either arm) the file is evicted from the page cache with
  ``posix_fadvise(POSIX_FADV_DONTNEED)`` (no root needed; the residency
  after eviction is measured with ``mincore`` and reported), and dpzoo's
  per-sha256 parse memo and index memo are emptied (``loading.forget``), so
  dpzoo re-reads and validates the index and parses and checks the header,
  as a fresh process's first load does. Dropping the whole page
  cache (``/proc/sys/vm/drop_caches``) needs root and would slow every other
  process on a shared machine; evicting the one file is what matters here.
* ``first`` (``--fresh N``) - the first load in a fresh process, N processes per
  arm and entry, interleaved, with the file evicted as above. Both arms import
  what they use before the clock starts (torch, dpzoo's loading modules, the
  model's class, ``safetensors.torch``): imports are start-up cost, and in a
  checkout run with ``PYTHONDONTWRITEBYTECODE=1`` every import compiles its
  source, which would be charged to whichever arm imports later.

dpzoo builds the architecture without drawing its initial parameters (see
``dpzoo.pretrained.lazy_init``), skipping the random initialisation that
``by_hand`` pays for and then overwrites; that is where it earns back its
checks. The garbage collector is off while timing, in both arms, as ``timeit``
has it. Each load is timed on the wall clock and in CPU time of the process
(``time.process_time``, every thread): on a shared machine the wall clock
also counts time the scheduler gave to others, so the CPU figure is the
steadier one; only the wall clock counts waiting for the disk (the same bytes
for both arms). The last line is one JSON object: milliseconds per load per
arm, entry, condition and clock, and dpzoo's ratio to ``by_hand`` in each.

    python benchmarks/zoo_load.py [--rounds 7] [--loads 20] [--cold-rounds 15] [--fresh 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

import dpzoo
from dpzoo.pretrained import entries, loading


def arm_by_hand(name: str, model_cls, config: dict, path: str):
    model = model_cls(model_cls.Config(**config))
    model.load_state_dict(load_file(path))
    return model


def arm_dpzoo(name: str, *_):
    return dpzoo.create_model(name, pretrained=True)


ARMS = {"by_hand": arm_by_hand, "dpzoo": arm_dpzoo}


def evict(path: str) -> float:
    """Drop ``path`` from the page cache; the fraction of its pages still resident afterwards (-1: unknown)."""
    if not hasattr(os, "posix_fadvise"):
        return -1.0
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # the zoo's files are never dirty: nothing to write back
    finally:
        os.close(fd)
    return resident(path)


def resident(path: str) -> float:
    """The fraction of ``path``'s pages in the page cache (``mincore``), or -1 where it cannot be asked."""
    import ctypes
    import mmap

    try:
        mincore = ctypes.CDLL(None, use_errno=True).mincore
    except (OSError, AttributeError):
        return -1.0
    mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte))
    size = os.path.getsize(path)
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vector = (ctypes.c_ubyte * pages)()
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        first = (ctypes.c_char * 1).from_buffer(mapped)  # the mapping's address; no page is touched
        status = mincore(ctypes.addressof(first), size, vector)
        del first  # the mapping cannot close while exported
    return -1.0 if status else sum(v & 1 for v in vector) / pages


COLD = """
import gc, os, sys, time, torch, dpzoo
from safetensors.torch import load_file
from dpzoo.pretrained import entries, lazy_init, loading, sources  # dpzoo's imports, done before the clock
sys.path.insert(0, {here!r})
from zoo_load import evict
torch.set_num_threads({threads})
name, arm, path = {name!r}, {arm!r}, {path!r}
from dpzoo.pretrained.card import read_card
card = read_card(path)  # the header alone: nothing about this file is parsed or checked by dpzoo yet
cls = dpzoo.get("model", card.arch).load()
left = evict(path)
gc.collect()
gc.disable()  # as timeit does: a cyclic collection of the imports' objects would land in either arm at random
start, cpu = time.perf_counter(), time.process_time()
if arm == "by_hand":
    model = cls(cls.Config(**card.config)); model.load_state_dict(load_file(path))
else:
    model = dpzoo.create_model(name, pretrained=True)
print(time.perf_counter() - start, time.process_time() - cpu, left)
"""


def first_load(name: str, arm: str, path: str, threads: int) -> tuple[tuple[float, float], float]:
    """((wall, CPU) seconds of the first load in a fresh process, page-cache residency after eviction)."""
    code = COLD.format(here=os.path.dirname(os.path.abspath(__file__)), name=name, arm=arm, path=path, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return (float(out[-3]), float(out[-2])), float(out[-1])


def timed(arm, name: str, setup, loads: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) per load."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(loads):
        arm(name, *setup)
    return (time.perf_counter() - start) / loads, (time.process_time() - cpu) / loads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="warm rounds")
    parser.add_argument("--loads", type=int, default=20, help="loads per warm round")
    parser.add_argument(
        "--cold-rounds", type=int, default=15, help="cold loads per arm and entry, in this process (0: skip)"
    )
    parser.add_argument(
        "--fresh", type=int, default=0, help="first loads in fresh processes per arm and entry (0: skip)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine may be shared)")
    parser.add_argument("--names", nargs="*", help="entries (default: every shipped one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    names = args.names or [w.name for w in entries.catalogue() if w.source == entries.SHIPPED]
    setups = {}
    for name in names:
        card = dpzoo.model_card(name)
        path = str(entries.resolve(name).location)
        setups[name] = (dpzoo.get("model", card.arch).load(), card.config, path)
        reference = arm_by_hand(name, *setups[name]).state_dict()
        for arm in ARMS.values():  # warm up, and check every arm gives the same weights
            state = arm(name, *setups[name]).state_dict()
            assert all(torch.equal(state[k], reference[k]) for k in reference), (name, arm)

    conditions = ["warm"] + (["cold"] if args.cold_rounds else []) + (["first"] if args.fresh else [])
    times = {c: {n: {a: [] for a in ARMS} for n in names} for c in conditions}
    left: list[float] = []  # page-cache residency right after each eviction
    gc.collect()
    gc.disable()  # as timeit does
    for _ in range(args.rounds):
        for name in names:
            for arm_name, arm in ARMS.items():
                times["warm"][name][arm_name].append(timed(arm, name, setups[name], args.loads))
    for _ in range(args.cold_rounds):
        for name in names:
            for arm_name, arm in ARMS.items():
                left.append(evict(setups[name][2]))
                loading.forget()  # nothing remembered, as in a fresh process (by_hand remembers nothing anyway)
                times["cold"][name][arm_name].append(timed(arm, name, setups[name], 1))
    gc.enable()
    for _ in range(args.fresh):
        for name in names:
            for arm_name in ARMS:
                seconds, residency = first_load(name, arm_name, setups[name][2], args.threads)  # (wall, CPU)
                times["first"][name][arm_name].append(seconds)
                left.append(residency)

    result: dict = {
        "threads": args.threads,
        "rounds": args.rounds,
        "loads": args.loads,
        "cold_rounds": args.cold_rounds,
        "fresh": args.fresh,
        "resident_after_eviction_max": max(left, default=None),
        "entries": {},
    }
    for name in names:
        size = entries.resolve(name).size
        row: dict[str, float] = {"bytes": size}
        line = f"{name:<28} {size:>9} B"
        for c in conditions:
            for clock, index in (("", 0), ("cpu_", 1)):
                median = {a: statistics.median(t[index] for t in ts) for a, ts in times[c][name].items()}
                row.update({f"{c}_{clock}{a}_ms": round(1e3 * s, 3) for a, s in median.items()})
                row[f"{c}_{clock}ratio"] = round(median["dpzoo"] / median["by_hand"], 3)
                line += f"  {c}{' cpu' if clock else ''} {1e3 * median['by_hand']:.2f}/{1e3 * median['dpzoo']:.2f} ms x{row[f'{c}_{clock}ratio']:.2f}"
        result["entries"][name] = row
        print(line, flush=True)
    for c in conditions:
        for clock in ("", "cpu_"):
            ratios = [result["entries"][n][f"{c}_{clock}ratio"] for n in names]
            result[f"{c}_{clock}ratio_median"], result[f"{c}_{clock}ratio_max"] = statistics.median(ratios), max(ratios)
            print(
                f"{c} ({'CPU' if clock else 'wall'} time): dpzoo / by hand, median over entries x{statistics.median(ratios):.2f}, worst x{max(ratios):.2f}"
            )
    print(f"page-cache residency right after eviction: at most {result['resident_after_eviction_max']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
