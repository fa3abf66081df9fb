"bench/origin_cc.py: the dev-split choice of the origin threshold counts solved structures per candidate and breaks ties towards smtbx's 0.9."
import xrdphase  # noqa: F401
import pytest

@pytest.fixture
def bench(bench_module):
    return bench_module('origin_cc')


def rows(bench, solved:dict):
    "Rows of structures a, b, c: solved[x] lists which of them candidate x solves."
    return [dict(structure=s, condition=bench.condition(x).name, solved=s in solved[x], chosen=0 if s in solved[x] else -1, cpu_seconds=1.0)
            for x in bench.CANDIDATES for s in 'abc']


def test_choice(bench):
    out = bench.choose(rows(bench, {0.9: 'a', 0.8: 'ab', 0.7: 'ab', 0.6: 'abc', 0.5: 'c'}))
    assert out['chosen'] == 0.6 and out['table']['0.6']['paired'] == dict(n=3, gained=2, lost=0, p=0.5)
    assert (out['table']['0.5']['solved'], out['table']['0.5']['paired']['lost'], out['table']['0.9']['no_candidate']) == (1, 1, 2)
    tie = bench.choose(rows(bench, {0.9: 'a', 0.8: 'ab', 0.7: 'ab', 0.6: 'a', 0.5: 'b'}))
    assert tie['chosen'] == 0.8                                           # 0.8 and 0.7 solve two each: the higher threshold


def test_conditions_differ_only_in_the_threshold(bench):
    a, b = bench.condition(0.9), bench.condition(0.6)
    assert (a.min_cc, b.min_cc, a.method, a.d, a.d_low, a.fixed_cycles, a.max_runs) == (0.9, 0.6, 'float+recycle', 1.0, 1.2, 600, 8)
    assert bench.B.replace(a, name=b.name, min_cc=0.6) == b
