"""Start-up (issue 17): what each command imports, scipy kept out of numba's start-up, `andasim selftest`."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from andasim.cli import main

HEAVY = ("numpy", "numba", "scipy", "torch", "matplotlib", "tqdm")


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(out.stdout.splitlines()[-1].split())


def _cli(args: str) -> str:
    return (f"from andasim.cli import main\ntry:\n    main({args.split()!r})\nexcept SystemExit:\n    pass\n"
            "sys.stdout.flush()")


def test_help_and_validate_import_no_numerical_library():
    for args in ("--help", "validate hw_configs/anda.yaml"):
        assert not _modules_after(_cli(args)) & set(HEAVY), args


def test_run_keeps_scipy_linalg_and_tqdm_out(tmp_path):
    """Finding (issue 17): numba's start-up for the engine imported scipy.linalg (0.2-0.4 s)."""
    code = _cli(f"run --hw anda --trace llama7b --out {tmp_path}")
    script = f"import sys\n{code}\nprint('scipy.linalg' in sys.modules, 'tqdm' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["False", "False"]
    assert (tmp_path / "result.json").exists()


def test_run_freezes_the_import_time_heap(tmp_path):
    """A fresh `run` spent ~70 ms in garbage collections that rescanned every import-time object while
    the mapper allocated its candidates; the command freezes that heap first (andasim/startup.py)."""
    code = _cli(f"run --hw anda --trace llama7b --out {tmp_path}")
    script = f"import gc, sys\n{code}\nprint(gc.get_freeze_count() > 10000)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "True"


def test_scipy_still_importable_after_numba_start():
    code = ("import andasim.cli\nfrom andasim.formats import anda_quantize\nimport numpy as np\n"
            "anda_quantize(np.ones((1, 64), np.float16), 4)\nimport scipy.linalg\n"
            "print(scipy.linalg.norm([3.0, 4.0]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "5.0"


def test_selftest_compiles_and_checks_every_kernel():
    result = CliRunner().invoke(main, ["selftest", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output and "all kernels compiled and exact" in result.output
    assert "mxfp4_e2m1" in result.output and "engine anda prefill" in result.output


def test_sweep_workers_keep_scipy_linalg_out():
    """The spawned local sweep workers paid numba's scipy.linalg probe (0.2-0.4 s each) before."""
    from sweep_probe import numba_started_without_scipy_linalg  # a module that does not import the CLI

    from andasim.explore.executors import run_local

    assert list(run_local(numba_started_without_scipy_linalg, [0, 1], workers=2)) == [True, True]


def test_sweep_workers_freeze_their_import_time_heap():
    from sweep_probe import heap_frozen

    from andasim.explore.executors import run_local

    assert list(run_local(heap_frozen, [0, 1], workers=2)) == [True, True]
