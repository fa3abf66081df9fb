"bench/completion.py: its shared-solve shortcut gives what `extend_solve` gives with that completion, and its choice breaks ties towards fewer cycles."
import xrdphase  # noqa: F401
import pytest
from xrdphase.extension import AutoSettings, CompletionSettings, extend_solve
from xrdphase.success import case_row

@pytest.fixture
def bench(bench_module):
    return bench_module('completion')


def test_shared_solve_is_extend_solve(bench, cod):     # dev molecules exclude the COD evaluation set: COD needed
    from xrdphase.molecular import MolecularSpec, COMMON_ORGANIC_GROUPS
    spec = MolecularSpec(smiles='moses', split='dev', space_groups=COMMON_ORGANIC_GROUPS['space_groups'], space_group_weights=None)
    case = bench.B.generated_cases(4, bench.DEV_SEED, spec)[0][3]          # a P-1 crystal that `auto` solves in a few runs
    row = bench.candidate_rows(case, (3,))[0]
    xs, rec = bench.B.load_case(case, bench.D_HIGH)
    sol = extend_solve(rec.cut(bench.D_LOW), bench.D_HIGH, 'auto', content=xs, seed=bench.B.case_seed(case, 0), max_runs=8, fixed_cycles=600,
                       auto=AutoSettings(completion=CompletionSettings(n_cycles=3)))
    direct = case_row(sol, xs)
    assert sol.rec.meta['completion_cycles'] == 3
    assert (row['matched_fraction'], row['phase_error_measured'], row['r1'], row['runs']) == \
           (direct['matched_fraction'], direct['phase_error_measured'], direct['r1_peaks'], direct['runs'])


def rows(solved:dict, centric:bool=False, names='abc'):
    "Rows of structures `names` of one family: solved[n] lists which of them n completion cycles solve."
    return [dict(structure=s, cycles=n, solved=s in solved[n], phased=True, centric=centric, cpu_seconds=float(n)) for n in (0, 1, 3, 6) for s in names]


def test_choice(bench):
    out = bench.choose(rows({0: 'a', 1: 'ab', 3: 'abc', 6: 'abc'}))
    assert out['chosen'] == 3 and out['table']['3']['paired'] == dict(n=3, gained=2, lost=0, p=0.5)   # 3 and 6 tie: fewer cycles
    assert bench.choose(rows({0: 'ab', 1: 'a', 3: 'a', 6: 'b'}))['chosen'] == 0
    both = rows({0: 'a', 1: 'a', 3: 'a', 6: 'abc'}) + rows({0: 'def', 1: 'def', 3: 'def', 6: 'def'}, centric=True, names='def')
    assert (bench.choose(both, False)['chosen'], bench.choose(both, True)['chosen'], bench.choose(both)['chosen']) == (6, 0, 6)
