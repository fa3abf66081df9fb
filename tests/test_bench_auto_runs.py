"bench/auto_runs.py: the dev-split choice of float+recycle's runs in `auto` counts solved structures per family and breaks ties towards fewer runs."
import xrdphase  # noqa: F401
import pytest

@pytest.fixture
def bench(bench_module):
    return bench_module('auto_runs')


def rows(bench, solved:dict, centric:bool=False):
    "Rows of structures a, b, c of one family: solved[x] lists which of them x runs solve."
    return [dict(structure=s, condition=bench.condition(x).name, solved=s in solved[x], centric=centric, cpu_seconds=float(x))
            for x in bench.CANDIDATES for s in 'abc']


def test_choice(bench):
    out = bench.choose(rows(bench, {8: 'a', 16: 'ab', 32: 'abc', 64: 'abc'}), centric=False)
    assert out['chosen'] == 32 and out['table']['32']['paired'] == dict(n=3, gained=2, lost=0, p=0.5)   # 32 and 64 tie: fewer runs
    assert out['table']['64']['cpu_mean'] == 64.0 and out['table']['8']['solved'] == 1
    lost = bench.choose(rows(bench, {8: 'ab', 16: 'a', 32: 'a', 64: 'b'}), centric=False)
    assert lost['chosen'] == 8 and lost['table']['16']['paired']['lost'] == 1
    both = rows(bench, {8: 'a', 16: 'a', 32: 'a', 64: 'abc'}) + rows(bench, {8: 'abc', 16: 'abc', 32: 'abc', 64: 'abc'}, centric=True)
    assert (bench.choose(both, False)['chosen'], bench.choose(both, True)['chosen']) == (64, 8)   # each family on its own rows


def test_conditions_differ_only_in_the_runs(bench):
    a, b = bench.condition(8), bench.condition(64)
    assert (a.max_runs, b.max_runs, a.method, a.d, a.d_low, a.fixed_cycles, a.min_cc) == (8, 64, 'float+recycle', 1.0, 1.2, 600, None)
    assert bench.B.replace(a, name=b.name, max_runs=64) == b and a.name.endswith(bench.B.FIXED_TAG)
