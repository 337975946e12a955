"""andasim/threads.py: one thread setting for BLAS, OpenMP, numba, torch; small products single-threaded."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import numpy as np
import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_info, threadpool_limits

from andasim import threads
from andasim.cli import main
from andasim.cli.threads_option import threads_option
from andasim.errors import AndasimInputError


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def restore_threads(monkeypatch):
    """set_threads changes process-wide state: environment (monkeypatched) and the pools (restored)."""
    for name in threads.THREAD_COUNT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, "_requested", None)
    with threadpool_limits(limits=None):  # restores every pool's count on exit
        yield


def test_set_threads_limits_blas_and_exports_env(restore_threads):
    assert threads.set_threads(1) == 1
    assert _blas_threads() and all(n == 1 for n in _blas_threads())
    assert all(os.environ[name] == "1" for name in threads.THREAD_COUNT_ENV)
    assert threads.current_threads() == 1
    assert threads.set_threads(None) == threads.usable_cores()


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "2"])
def test_set_threads_refuses_bad_values(restore_threads, bad):
    with pytest.raises(AndasimInputError, match="threads must be an integer >= 1"):
        threads.set_threads(bad)


def test_single_threaded_limits_then_restores():
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with threads.single_threaded():
            assert all(n == 1 for n in _blas_threads())
        assert _blas_threads() == before


def test_passive_wait_policy_respects_user_values(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    applied = threads.set_passive_wait_policy()
    assert applied == {"OPENBLAS_THREAD_TIMEOUT": "4"}
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_import_andasim_sets_passive_policy_before_numpy_loads():
    env = {k: v for k, v in os.environ.items() if k not in threads.PASSIVE_WAIT_ENV}
    code = ("import sys, os, andasim; assert 'numpy' not in sys.modules; "
            "print(os.environ['OMP_WAIT_POLICY'], os.environ['OPENBLAS_THREAD_TIMEOUT'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["PASSIVE", "4"]


def test_threads_option_applies_while_parsing(restore_threads):
    seen = {}

    @click.command()
    @threads_option(expose_value=True)
    def cmd(threads: int) -> None:
        seen["arg"] = threads
        seen["blas"] = _blas_threads()

    assert CliRunner().invoke(cmd, ["--threads", "1"]).exit_code == 0
    assert seen["arg"] == 1 and all(n == 1 for n in seen["blas"])
    result = CliRunner().invoke(cmd, ["--threads", "0"])
    assert result.exit_code == 2 and "--threads" in result.output


@pytest.mark.parametrize("command", ["run", "compare", "reproduce", "offload", "tp", "search", "sweep"])
def test_numerical_commands_take_threads(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "--threads" in result.output


class _SumSpy:
    """numpy stand-in for one module: records BLAS thread counts when its products are reduced."""

    def __init__(self, seen: list[int]) -> None:
        self._seen = seen

    def __getattr__(self, name):
        return getattr(np, name)

    def sum(self, *args, **kwargs):
        self._seen.extend(_blas_threads())
        return np.sum(*args, **kwargs)

    def stack(self, *args, **kwargs):
        self._seen.extend(_blas_threads())
        return np.stack(*args, **kwargs)


def _needs_two_blas_threads():
    with threadpool_limits(limits=2, user_api="blas"):
        if max(_blas_threads(), default=0) < 2:
            pytest.skip("BLAS runs single-threaded here anyway")


def test_proxy_products_run_single_threaded(monkeypatch):
    """Finding (issue 17): the proxy's small float64 products ran on all of OpenBLAS's threads."""
    _needs_two_blas_threads()
    from andasim.search.evaluators import proxy
    from andasim.workload.trace import load_trace

    seen: list[int] = []
    with threadpool_limits(limits=2, user_api="blas"):
        ev = proxy.ProxyEvaluator(load_trace("smollm2-135m"))
        monkeypatch.setattr(proxy, "np", _SumSpy(seen))
        ev.gemm_error2(0, "o", 5)
    assert seen and all(n == 1 for n in seen)


def test_tp_partials_run_single_threaded(monkeypatch):
    """Finding (issue 17): rebuild_partials' products ran on all of OpenBLAS's threads."""
    _needs_two_blas_threads()
    from andasim.system.tp import error

    seen: list[int] = []
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(32, 64)), rng.normal(size=(64, 8))
    monkeypatch.setattr(error, "np", _SumSpy(seen))
    with threadpool_limits(limits=2, user_api="blas"):
        parts = error.rebuild_partials(x, w, error.split_bounds(64, 4))
    assert seen and all(n == 1 for n in seen)
    np.testing.assert_allclose(parts.sum(axis=0), x @ w, rtol=1e-5, atol=1e-5)
