"""What the v1 and v2 pinned-vector tests share (tests/merge/test_vectors*.py): reading a case's
expected files, comparing a merge with them, the shuffled-input and separate-process checks.

A vectors module (`vectors/pinned.py`, `vectors_v2/pinned_v2.py`) offers the same functions —
`CASES`, `load_inputs`, `run_case`, `compute_case`, `summarise`, `load_expected`,
`differences`, `report` — and runs as a script (`<module>.py <threads>`) printing each case's
pinned keys as one JSON object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@dataclass(frozen=True)
class VectorSuite:
    """The checks of one set of vectors: `module` its pinned module, `script` that module's
    file (run in fresh processes), `keys` the summary fields the cross-process check compares,
    `folder` the vectors' folder (named in the hint to regenerate)."""

    module: ModuleType
    script: Path
    keys: Sequence[str]
    shuffled: str  # what `run_case(shuffle=…)` permutes, for the failure message

    def expected(self, case: Any) -> tuple[dict[str, Any], bytes]:
        vector = self.module.load_expected(case)
        if vector is None:
            pytest.fail(f"no vector for {case.title}: run {self.script.parent}/regenerate.py")
        result: tuple[dict[str, Any], bytes] = vector
        return result

    def check(self, case: Any, got: tuple[dict[str, Any], bytes], how: str = "") -> None:
        problems = self.module.differences(case, self.expected(case), got)
        if problems:
            pytest.fail(self.module.report(case, problems) + how, pytrace=False)

    def all_expected(self) -> Iterator[tuple[Any, dict[str, Any], bytes]]:
        for case in self.module.CASES:
            summary, manifest = self.expected(case)
            yield case, summary, manifest

    def check_reproduced(self, inputs: Any, case: Any) -> None:
        self.check(case, self.module.compute_case(inputs, case))

    def check_shuffled(self, inputs: Any, case: Any) -> None:
        for seed in (1, 2):
            result = self.module.run_case(inputs, case, shuffle=seed)
            got = self.module.summarise(result, inputs.labels), result.manifest
            self.check(case, got, f"\n({self.shuffled} shuffled, seed {seed})")

    def check_separate_processes(self) -> None:
        """Every case in a fresh process under 1 and 2 threads gives the pinned keys."""
        for threads in (1, 2):
            env = {
                **os.environ,
                "OMP_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads),
                "OPENBLAS_NUM_THREADS": str(threads),
                "PYTHONHASHSEED": str(threads),
            }
            proc = subprocess.run(
                [sys.executable, str(self.script), str(threads)],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            )
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            for case, summary, _ in self.all_expected():
                for key in self.keys:
                    assert got[case.name][key] == summary[key], (
                        f"{case.title} with {threads} thread(s) in a fresh process: {key} "
                        f"expected {summary[key]}, got {got[case.name][key]}"
                    )
