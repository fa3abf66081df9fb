"bench/refinement.py: the table of 'refined R1 below X' against the reference's verdict, the row cache, and its one-line argument errors."
import xrdphase  # noqa: F401
import json
import pytest
from xrdphase.benchmark import Case, wilson_interval

@pytest.fixture
def bench(bench_module):
    return bench_module('refinement')


# (r1, solved_80, phased, r1_wrong, r1_random): a good solve, a wrong one that refines well, a good one that refines badly,
# no candidate (r1 None), a right solve whose refinement failed (r1 None), a plain failure
# refined rows also carry elements, r1_true, bonds_ok, elements_right, n_ref and partial (`headline`)
REFINED = dict(good=(1.0, 0.04, '20/20', 20, 20, 0), wrong_but_low=(0.5, 0.05, '10/14', 5, 10, 0), good_but_high=(0.95, 0.21, '18/20', 19, 20, 2),
               failed=(0.2, 0.06, '5/12', 2, 10, 0))
ROWS = [dict(name=n, r1=r, solved_80=s, phased=p, r1_wrong=w, r1_random=x,
             **dict(zip(('elements', 'r1_true', 'bonds_ok', 'elements_right', 'n_ref', 'partial'), REFINED.get(n.replace('-', '_'), ())))) for n, r, s, p, w, x in [
    ('good', 0.05, True, True, 0.45, 0.50), ('wrong-but-low', 0.12, False, True, 0.14, 'diverged'), ('good-but-high', 0.22, True, True, 0.50, 0.52),
    ('no candidate', None, False, False, 0.48, None), ('refine failed', None, True, True, 'diverged', 0.55), ('failed', 0.40, False, False, 0.47, 0.51)]]

# X: (R1<X & solved, false accepts, false rejects, R1>=X-or-none & not solved), worked out by hand from ROWS
EXPECTED = {0.10: (1, 0, 2, 3), 0.15: (1, 1, 2, 2), 0.20: (1, 1, 2, 2), 0.25: (2, 1, 1, 2), 0.30: (2, 1, 1, 2)}


def check(table, expected):
    for t in table:
        assert (t['accept_solved'], t['false_accepts'], t['false_rejects'], t['reject_failed']) == expected[t['x']], t
        k = t['accept_solved'] + t['reject_failed']
        assert (t['agree'], t['n'], t['rate'], tuple(t['ci95'])) == (k, len(ROWS), round(k / len(ROWS), 4), wilson_interval(k, len(ROWS)))


def test_agreement_counts(bench):
    table = bench.agreement(ROWS, 'solved_80')
    assert [t['x'] for t in table] == list(bench.THRESHOLDS)
    check(table, EXPECTED)
    with pytest.raises(AssertionError): check(table, {**EXPECTED, 0.25: (2, 0, 1, 3)})      # one count wrong: the check sees it
    assert [(t['wrong_below'], t['random_below']) for t in table] == [(0, 0), (1, 0), (1, 0), (1, 0), (1, 0)]   # 'diverged' and None are not below X
    phased = bench.agreement(ROWS, 'phased')
    assert [(t['accept_solved'], t['false_accepts']) for t in phased][1] == (2, 0)          # at X = 0.15 the low wrong-atoms row is phased
    md = bench.agreement_table(table, 'solved_80')
    assert md.count('\n') == 2 + len(bench.THRESHOLDS) and '| 0.15 | 1 | 1 | 2 | 2 | 3/6 |' in md


def test_argument_errors(bench, tmp_path):
    for argv, words in [(['--cod', 'nope.cif'], '--cod nope.cif: no such file'), (['--extend', 'float+recycle'], '--extend needs --d-low'),
                        (['--d-low', '1.5', '--extend', 'bogus', '--d-min', '1.0'], '--extend bogus: not a method'),
                        (['--d-low', '0.8', '--d-min', '1.0'], 'must be coarser')]:
        with pytest.raises(SystemExit) as e: bench.main(argv + ['--out', str(tmp_path)])
        assert words in str(e.value.code) and '\n' not in str(e.value.code), argv
    assert list(tmp_path.iterdir()) == []             # nothing written


def test_rows_cached_and_summary(bench, tmp_path, monkeypatch, capsys):
    cases = [Case('real', r['name'], ('made',)) for r in ROWS]
    rows = {r['name']: r for r in ROWS}
    calls = []
    monkeypatch.setattr(bench, 'select_cases', lambda cod: (cases, {}))
    monkeypatch.setattr(bench, 'run_case', lambda case, cond, seed, max_runs: calls.append(case.name) or dict(rows[case.name]))
    monkeypatch.setattr(bench, 'case_atoms', lambda case, d: 20)
    argv = ['--d-low', '1.5', '--extend', 'float+recycle', '--d-min', '1.0', '--out', str(tmp_path)]
    bench.main(argv)
    assert calls == [r['name'] for r in ROWS]
    with open(tmp_path / 'rows.jsonl', 'a') as fh: fh.write('{"key": "torn')          # a killed run's last line
    bench.main(argv)
    assert len(calls) == len(ROWS)                    # the rerun solved nothing
    s = json.loads((tmp_path / 'summary.json').read_text())
    check(s['agreement']['solved_80'], EXPECTED)
    assert s['condition'] == 'float+recycle 1.5→1.0 Å [600 cycles]' and len(s['rows']) == len(ROWS)
    assert 'none is chosen on these structures' in capsys.readouterr().out
    bench.main(argv[:-2] + ['--solver', 'smtbx', '--out', str(tmp_path)])
    assert len(calls) == 2 * len(ROWS)                # other settings: other keys


def test_headline(bench):
    h = bench.headline(ROWS)
    # refined: good, wrong-but-low, good-but-high, failed; elements >= 0.9: good, good-but-high; R1 - R1(true) <= 0.02: good, good-but-high
    assert (h['n'], h['refined'], h['elements_90'][:2], h['r1_within_002'][:2]) == (6, 4, [2, 4], [2, 4])
    assert h['bonds_ok'] == [53, 66, round(53 / 66, 4)]
    assert h['atoms_right'][:2] == [46, 60] and h['atoms_right'][2][0] < 46 / 60 < h['atoms_right'][2][1]   # pooled over the 4 refined
    by = h['r1_within_002_by_reference']          # good-but-high's reference has partly occupied sites
    assert (by['ordered'][:2], by['partial'][:2]) == ([1, 3], [1, 1])


def test_max_atoms_left_out_and_named(bench, tmp_path, monkeypatch, capsys):
    cases = [Case('real', r['name'], ('made',)) for r in ROWS]
    monkeypatch.setattr(bench, 'select_cases', lambda cod: (cases, {}))
    monkeypatch.setattr(bench, 'case_atoms', lambda case, d: 300 if case.name == 'failed' else 20)
    monkeypatch.setattr(bench, 'run_case', lambda case, cond, seed, max_runs: next(dict(r) for r in ROWS if r['name'] == case.name))
    bench.main(['--d-min', '1.0', '--out', str(tmp_path)])
    s = json.loads((tmp_path / 'summary.json').read_text())
    assert s['left_out'] == {'failed': '300 non-H atoms > --max-atoms 200'} and len(s['rows']) == len(ROWS) - 1
    assert '3 of 5 refined (1 left out' in capsys.readouterr().out


def test_reference_written_only_when_asked(bench, tmp_path, monkeypatch):
    cases = [Case('real', r['name'], ('made',)) for r in ROWS]
    monkeypatch.setattr(bench, 'select_cases', lambda cod: (cases, {}))
    monkeypatch.setattr(bench, 'case_atoms', lambda case, d: 20)
    monkeypatch.setattr(bench, 'run_case', lambda case, cond, seed, max_runs: next(dict(r) for r in ROWS if r['name'] == case.name))
    monkeypatch.setattr(bench, 'REF_DIR', tmp_path / 'reference')
    bench.main(['--cod', 'all', '--d-min', '1.0', '--out', str(tmp_path / 'runs')])
    assert not (tmp_path / 'reference').exists()
    bench.main(['--cod', 'all', '--d-min', '1.0', '--out', str(tmp_path / 'runs'), '--update-reference'])
    s = json.loads((tmp_path / 'reference' / 'all_true_1.0.json').read_text())
    assert s['headline']['refined'] == 4 and s['cod'] == ['all'] and s['command'].endswith('--update-reference')


def test_failed_labels(bench):
    "Only a divergence is called 'diverged': the exact fit of a calculated data set is not a wrong model."
    from xrdphase.refinement import RefinementError
    assert bench.failed(RefinementError('refinement diverged in the final stage: R1 0.100 -> 0.9')) == 'diverged'
    exact = RefinementError("refinement failed: smtbx's goodness of fit raised 'math domain error' (χ² below zero by round-off: the model fits the data exactly?)")
    assert bench.failed(exact) == 'failed: exact fit (χ² below zero by round-off)'
    assert bench.failed(RefinementError('cannot place riding H (x)')) == 'failed: cannot place riding H (x)'
