"""bench/element_rules.py: the two dev choices (element rules by fewest wrong atoms; then atoms added by fewest atoms not right,
missing ones counted; a tie to the earlier candidate), from synthetic rows."""
import xrdphase  # noqa: F401
import pytest


@pytest.fixture
def bench(bench_module):
    return bench_module('element_rules')


def rows(bench, wrong:dict, missing:dict|None=None, n_ref=10):
    """One row per (crystal, candidate): `wrong[candidate]` lists each crystal's wrong atoms (default: one for the element candidates
    other than BASE, which wins the first step), `missing[candidate]` its missing ones; crystal 'z' has no solution."""
    missing, other = missing or {}, [['C->N'], [], []]
    out = [dict(structure=s, solved=True, n_ref=n_ref, candidate=c, r1=0.05, wrong=w, right=n_ref - len(w) - m, cpu_s=1.0)
           for c in bench.CANDIDATES for s, w, m in zip('abc', wrong.get(c, [[], [], []] if c in bench.ADDED else other), missing.get(c, [0, 0, 0]))]
    return out + [dict(structure='z', solved=False, n_ref=n_ref, candidate=None)]


def test_element_choice(bench):
    names = list(bench.ELEMENTS)
    assert names[-1] == bench.BASE and list(bench.ADDED)[0] == bench.BASE and set(bench.CANDIDATES) == set(bench.ELEMENTS) | set(bench.ADDED)
    wrong = {c: [['C->N', 'N->C'], [], []] for c in names}
    wrong[bench.BASE] = [[], [], ['O->N']]
    out = bench.choose(rows(bench, wrong), n_cases=4)
    assert out['steps'][0]['chosen'] == bench.BASE                      # 1 wrong atom beats 2
    assert (out['no_solution'], out['n_compared'], out['n_crystals']) == (1, 3, 4)
    t = out['table']
    assert (t[names[0]]['wrong_atoms'], t[names[0]]['atoms'], t[names[0]]['elements_90']) == (2, 30, 2)   # 8/10 right is below 90 %
    assert (t[bench.BASE]['elements_90'], t[bench.BASE]['confusions']) == (3, {'O->N': 1})
    wrong[names[0]] = [[], [], []]                                      # a better first candidate: the second step has no base
    with pytest.raises(SystemExit, match='first choice is now'): bench.choose(rows(bench, wrong), n_cases=4)


def test_added_choice_counts_missing_atoms(bench):
    added = list(bench.ADDED)
    missing = {c: [2, 0, 0] for c in bench.CANDIDATES}
    missing[added[1]] = [0, 0, 0]
    missing[added[2]] = [0, 0, 0]
    out = bench.choose(rows(bench, {}, missing), n_cases=4)
    assert out['chosen'] == added[1] and out['chosen_rules']['max_added'] == 2      # no atom missing; the tie with added[2] to the earlier
    assert (out['table'][bench.BASE]['missing_atoms'], out['table'][added[1]]['missing_atoms']) == (2, 0)
    assert (out['steps'][1]['paired_90']['gained'], out['steps'][1]['paired_90']['lost']) == (1, 0)    # crystal a: 8/10 right -> 10/10
    wrong = {added[1]: [[], ['C->N', 'N->C', 'O->C'], []]}                 # two missing atoms found, three elements lost: worse
    assert bench.choose(rows(bench, wrong, missing), n_cases=4)['chosen'] == added[2]


def test_refused_rows_left_out_of_the_comparison(bench):
    names = list(bench.CANDIDATES)
    r = rows(bench, {c: [['C->N']] * 3 for c in bench.ELEMENTS if c != bench.BASE})
    r[0] = {k: v for k, v in r[0].items() if k not in ('r1', 'wrong', 'right')} | dict(error='refinement diverged')
    out = bench.choose(r, n_cases=4)
    assert out['n_compared'] == 2 and out['table'][names[0]]['not_refined'] == 1


def test_to_run(bench):
    names = list(bench.CANDIDATES)
    have = [dict(structure='a', candidate=c) for c in names[:4]]
    assert bench.to_run(have) == names[4:]                                    # a cached crystal runs only the new candidates
    assert bench.to_run([dict(structure='a', candidate=None)]) == []         # no solution: nothing to refine
