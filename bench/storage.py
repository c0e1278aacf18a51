"""Benchmark the local store: put/get throughput vs plain hashlib.sha256, and peak memory.

Each size runs in its own subprocess (so ru_maxrss is that size's peak): the input is written
to a temp file first, then streamed (1) through hashlib.sha256, (2) into LocalStore.put_stream
(durability flush on, the default; --no-fsync shows the hashing+write cost alone), (3) back out through LocalStore.iter_content (every block verified).

    python bench/storage.py                 # 1 MiB, 64 MiB, 512 MiB
    python bench/storage.py --sizes 1 64    # MiB
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MiB = 1024 * 1024


def _write_input(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        left = size
        while left:
            n = min(left, 4 * MiB)
            handle.write(os.urandom(n))
            left -= n


def _one(size_mib: int, fsync: bool) -> dict[str, float]:
    from flchain.storage import LocalStore

    size = size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="flchain-bench-") as tmp:
        src = Path(tmp) / "input.bin"
        _write_input(src, size)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        start = time.perf_counter()
        digest = hashlib.sha256()
        with src.open("rb") as handle:
            while chunk := handle.read(MiB):
                digest.update(chunk)
        t_hash = time.perf_counter() - start

        store = LocalStore(Path(tmp) / "store", fsync=fsync)
        start = time.perf_counter()
        with src.open("rb") as handle:
            cid = store.put_stream(handle)
        t_put = time.perf_counter() - start

        start = time.perf_counter()
        got = 0
        for chunk in store.iter_content(cid):
            got += len(chunk)
        t_get = time.perf_counter() - start
        assert got == size
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "size_mib": size_mib,
        "hashlib_mib_s": size_mib / t_hash,
        "put_mib_s": size_mib / t_put,
        "get_mib_s": size_mib / t_get,
        "put_vs_hashlib": t_hash / t_put,
        "rss_before_mib": rss_before / 1024,
        "peak_rss_mib": rss_after / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 512], help="MiB")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-fsync", action="store_true", help="skip the durability flush (hashing+write cost)"
    )
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(_one(args.one, not args.no_fsync)))
        return
    print("LocalStore fsync:", "off" if args.no_fsync else "on")
    print(f"{'size':>8} {'hashlib':>12} {'put':>12} {'get':>12} {'put/hash':>9} {'peak RSS':>9}")
    for size in args.sizes:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(size),
                *(["--no-fsync"] if args.no_fsync else []),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout)
        print(
            f"{size:>5} MiB {r['hashlib_mib_s']:>8.0f} MB/s {r['put_mib_s']:>8.0f} MB/s "
            f"{r['get_mib_s']:>8.0f} MB/s {r['put_vs_hashlib']:>8.0%} {r['peak_rss_mib']:>6.0f} MiB"
        )


if __name__ == "__main__":
    main()
