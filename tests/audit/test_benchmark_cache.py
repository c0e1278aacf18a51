"""Resolving a shipped benchmark by id in a fresh process (what every audit does) without
importing pandas: the cleaned shipped bars come from a cache file keyed by the raw CSV, the
cleaning code and the library versions, and equal the pandas-cleaned bars exactly.

Each case runs in a fresh interpreter with its own FLCHAIN_CACHE_DIR (the import state of the
test process says nothing about a fresh one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
from flchain.market.benchmark import SHIPPED_WINDOWS, shipped_window, resolve
from flchain.market.loaders import load_btc_15min
ids = [shipped_window(i).id for i in range(SHIPPED_WINDOWS)]
assert all(resolve(i).id == i for i in ids)
loaded = load_btc_15min()
print(json.dumps({"pandas": "pandas" in sys.modules, "ids": ids,
                  "all_bars": loaded.bars.content_hash(),
                  "report": loaded.report.model_dump()}))
"""


def probe(cache: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLCHAIN_")}
    env["FLCHAIN_CACHE_DIR"] = str(cache)
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=env, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    cache = tmp_path_factory.mktemp("cache")
    return cache, probe(cache)


def test_first_resolve_cleans_with_pandas_and_fills_the_cache(
    cold: tuple[Path, dict[str, object]],
) -> None:
    cache, first = cold
    assert first["pandas"] is True
    assert [p.name.split("-")[:4] for p in cache.glob("*.npz")] == [["BTC", "USD", "15", "MIN"]]


def test_warm_resolve_reads_the_cache_without_pandas_and_gets_the_same_bars(
    cold: tuple[Path, dict[str, object]],
) -> None:
    cache, first = cold
    warm = probe(cache)
    assert warm["pandas"] is False
    assert (warm["ids"], warm["all_bars"], warm["report"]) == (
        first["ids"], first["all_bars"], first["report"],
    )  # fmt: skip


def test_damaged_or_foreign_cache_falls_back_to_pandas(
    cold: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    _, first = cold
    cache = tmp_path / "cache"
    probe(cache)
    (entry,) = cache.glob("*.npz")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte inside the arrays
    entry.write_bytes(bytes(data))
    damaged = probe(cache)
    assert damaged["pandas"] is True and damaged["ids"] == first["ids"]
    assert probe(cache)["pandas"] is False  # rewritten whole by the fallback
    entry.write_bytes(b"not a zip file")
    assert probe(cache)["ids"] == first["ids"]


def test_unwritable_cache_still_resolves(
    cold: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    _, first = cold
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the cache folder should be")
    assert probe(blocked / "cache")["ids"] == first["ids"]
