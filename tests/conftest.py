"""pytest setup: xrdphase first (cctbx's C++ runtime before torch/matplotlib), and the fixtures the test files share."""
import xrdphase  # noqa: F401
import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    "Skipped tests say why in the summary (as `pytest -rs`): a missing COD folder is a visible line, not a bare 's'."
    if 's' not in config.option.reportchars: config.option.reportchars += 's'


@pytest.fixture
def cod(request):
    "The COD folder (../shared/cod or $XRDPHASE_COD); without it the test is skipped with core's one line (`cod_absent`)."
    from xrdphase.core import cod_dir, cod_absent
    d = cod_dir()
    if d is None: pytest.skip(cod_absent(request.node.name))
    return d


@pytest.fixture(scope='session')
def bench_module():
    "bench_module(name): the script bench/NAME.py loaded as a module (its functions, and `main(argv)`), without running it."
    import importlib.util
    def load(name):
        spec = importlib.util.spec_from_file_location(f'bench_{name}', ROOT / 'bench' / f'{name}.py')
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load


@pytest.fixture(scope='session')
def run_python():
    "run_python(code, timeout=300, **env): `code` in a fresh interpreter at the repository root, with extra environment variables."
    def run(code, timeout=300, **env):
        return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={**os.environ, **env}, cwd=ROOT, timeout=timeout)
    return run


@pytest.fixture(scope='session')
def batch_of():
    "batch_of(task, seeds, spec='thesis', e_method=None): a batch (dict of stacked tensors) of `task_sample`s of random structures to 0.8 Å."
    import torch
    from xrdphase.crystal import random_structure
    from xrdphase.diffraction import reflections
    from xrdphase.grid import task_sample
    def make(task, seeds, spec='thesis', e_method=None):
        ss = [task_sample(reflections(random_structure(spec, s), 0.8, e_method=e_method), task) for s in seeds]
        return {k: torch.stack([torch.as_tensor(s[k]) for s in ss]) for k in ss[0]}
    return make


@pytest.fixture(scope='session')
def fake_solution():
    "fake_solution(rec, phases): a `phasing.Solution` whose one candidate has `phases` (deg) — to test success measures without solving."
    from dataclasses import replace
    from xrdphase.phasing import Solution
    def make(rec, phases):
        return Solution(rec=replace(rec, phi=phases), phase_transition=True, seconds=0, cycles=0, runs=0, seed=0, normalisation='E',
                        n_peaks=0, candidates=[dict(phases=phases, cc=1, shift=(0, 0, 0), peaks=None, heights=None, r1_peaks=0)], chosen=0)
    return make
