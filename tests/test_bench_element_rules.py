"""bench/element_rules.py: the dev choices of STEPS in turn (element rules by fewest wrong atoms; then atoms added, false atoms
moved and swaps, each by fewest atoms not right, missing ones counted; a tie to the earlier candidate), from synthetic rows."""
import xrdphase  # noqa: F401
import pytest


@pytest.fixture
def bench(bench_module):
    return bench_module('element_rules')


def rows(bench, wrong:dict|None=None, missing:dict|None=None, n_ref=10):
    """One row per (crystal, candidate) for crystals a, b, c; crystal 'z' has no solution. `wrong[candidate]` lists each crystal's
    wrong atoms, `missing[candidate]` its missing ones. Default: the committed chain (BASE, ADDED_CHOICE, MOVED_CHOICE) has no
    wrong atom and 3, 2, 1 missing in crystal c; every other candidate has two wrong atoms in crystal b and none missing."""
    chain = {bench.BASE: 3, bench.ADDED_CHOICE: 2, bench.MOVED_CHOICE: 1}
    wrong = {c: [[], [], []] if c in chain else [[], ['C->N', 'N->C'], []] for c in bench.CANDIDATES} | (wrong or {})
    missing = {c: [0, 0, chain.get(c, 0)] for c in bench.CANDIDATES} | (missing or {})
    out = [dict(structure=s, solved=True, n_ref=n_ref, candidate=c, r1=0.05, wrong=w, right=n_ref - len(w) - m, cpu_s=1.0)
           for c in bench.CANDIDATES for s, w, m in zip('abc', wrong[c], missing[c])]
    return out + [dict(structure='z', solved=False, n_ref=n_ref, candidate=None)]


def test_steps_build_on_each_other(bench):
    for (before, _, built_on), (cands, _, _) in zip(bench.STEPS, bench.STEPS[1:]):
        assert built_on in before and list(cands)[0] == built_on
    assert set(bench.CANDIDATES) == {c for cands, _, _ in bench.STEPS for c in cands}
    out = bench.choose(rows(bench), n_cases=4)
    assert [st['chosen'] for st in out['steps']] == [bench.BASE, bench.ADDED_CHOICE, bench.MOVED_CHOICE, bench.MOVED_CHOICE]
    assert out['chosen'] == bench.MOVED_CHOICE and out['chosen_rules']['max_moved'] == 3 and out['chosen_rules']['swap_slack'] == 0.0
    assert (out['no_solution'], out['n_compared'], out['n_crystals']) == (1, 3, 4)


def test_element_choice_counts_wrong_atoms_only(bench):
    names = list(bench.ELEMENTS)
    out = bench.choose(rows(bench), n_cases=4)
    t = out['table']
    assert (t[names[0]]['wrong_atoms'], t[names[0]]['atoms'], t[names[0]]['elements_90']) == (2, 30, 2)   # 8/10 right is below 90 %
    assert (t[bench.BASE]['wrong_atoms'], t[bench.BASE]['missing_atoms'], t[bench.BASE]['elements_90']) == (0, 3, 2)   # missing: not the first step's
    with pytest.raises(SystemExit, match="step 1's choice is now"): bench.choose(rows(bench, {names[0]: [[], [], []]}), n_cases=4)  # a tie: the earlier


def test_later_steps_count_missing_atoms(bench):
    out = bench.choose(rows(bench), n_cases=4)
    assert (out['steps'][1]['paired_90']['gained'], out['steps'][1]['paired_90']['lost']) == (0, 0)    # crystal c: 7/10 and 8/10, both below
    assert (out['steps'][2]['paired_90']['gained'], out['steps'][2]['base']) == (1, bench.ADDED_CHOICE)   # crystal c: 8/10 -> 9/10
    with pytest.raises(SystemExit, match="step 2's choice is now"):
        bench.choose(rows(bench, missing={bench.ADDED_CHOICE: [0, 0, 4]}), n_cases=4)          # more missing than its base: the base


def test_swap_choice(bench):
    swaps = list(bench.SWAPS)
    out = bench.choose(rows(bench, {swaps[3]: [[], [], []]}), n_cases=4)      # no wrong atom, none missing: better than 1 missing
    assert out['chosen'] == swaps[3] and (out['chosen_rules']['max_swaps'], out['chosen_rules']['swap_slack']) == (24, 1.0)
    out = bench.choose(rows(bench, {swaps[3]: [[], ['O->N'], []]}), n_cases=4)  # 1 not right: a tie with the base, which stays
    assert out['chosen'] == bench.MOVED_CHOICE


def test_refused_rows_left_out_of_the_comparison(bench):
    names = list(bench.CANDIDATES)
    r = rows(bench)
    r[0] = {k: v for k, v in r[0].items() if k not in ('r1', 'wrong', 'right')} | dict(error='refinement diverged')
    out = bench.choose(r, n_cases=4)
    assert out['n_compared'] == 2 and out['table'][names[0]]['not_refined'] == 1


def test_to_run(bench):
    names = list(bench.CANDIDATES)
    have = [dict(structure='a', candidate=c) for c in names[:4]]
    assert bench.to_run(have) == names[4:]                                    # a cached crystal runs only the new candidates
    assert bench.to_run([dict(structure='a', candidate=None)]) == []         # no solution: nothing to run
