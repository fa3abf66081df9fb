"bench/element_rules.py: the dev choice among `ElementRules` candidates (fewest wrong atoms, a tie to the earlier one), from synthetic rows."
import xrdphase  # noqa: F401
import pytest


@pytest.fixture
def bench(bench_module):
    return bench_module('element_rules')


def rows(bench, wrong:dict, n_ref=10):
    "One row per (crystal, candidate): `wrong[candidate]` lists the wrong atoms of each crystal; crystal 'z' has no solution."
    out = [dict(structure=s, solved=True, n_ref=n_ref, candidate=c, r1=0.05, wrong=w, right=n_ref - len(w), cpu_s=1.0)
           for c, per in wrong.items() for s, w in zip('abc', per)]
    return out + [dict(structure='z', solved=False, n_ref=n_ref, candidate=None)]


def test_choice(bench):
    names = list(bench.CANDIDATES)
    wrong = {c: [['C->N', 'N->C'], [], []] for c in names}
    wrong[names[2]] = [[], [], ['O->N']]
    wrong[names[3]] = [[], [], ['O->N']]
    out = bench.choose(rows(bench, wrong), n_cases=4)
    assert out['chosen'] == names[2]                                     # 1 wrong atom beats 2; the tie with names[3] goes to the earlier
    assert (out['no_solution'], out['n_compared'], out['n_crystals']) == (1, 3, 4)
    t = out['table']
    assert (t[names[0]]['wrong_atoms'], t[names[0]]['atoms'], t[names[0]]['elements_90']) == (2, 30, 2)   # 8/10 right is below 90 %
    assert (t[names[2]]['elements_90'], t[names[2]]['confusions']) == (3, {'O->N': 1})
    wrong[names[0]] = [[], [], []]
    assert bench.choose(rows(bench, wrong), n_cases=4)['chosen'] == names[0]    # the check above can fail: a better first candidate wins


def test_refused_rows_left_out_of_the_comparison(bench):
    names = list(bench.CANDIDATES)
    r = rows(bench, {c: [[], [], []] for c in names})
    r[0] = {k: v for k, v in r[0].items() if k not in ('r1', 'wrong', 'right')} | dict(error='refinement diverged')
    out = bench.choose(r, n_cases=4)
    assert out['n_compared'] == 2 and out['table'][names[0]]['not_refined'] == 1
