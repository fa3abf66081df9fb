"bench/phasing.py: the committed reference is written only when asked, and a run of one group keeps the other groups."
import xrdphase  # noqa: F401
import json
from pathlib import Path
import pytest

@pytest.fixture
def bench(tmp_path, monkeypatch, bench_module):
    mod = bench_module('phasing')
    monkeypatch.setattr(mod, 'REF_JSON', tmp_path / 'phasing_benchmark.json')
    monkeypatch.setattr(mod, 'REF_ROWS', tmp_path / 'phasing_cases.jsonl')
    return mod


def _summary(mod, groups, tag):
    return dict(version=mod.B.VERSION, **{k: {g: f'{tag} {g}' for g in groups} for k in mod.PER_GROUP})


def test_one_group_replaces_only_itself(bench):
    old = dict(_summary(bench, ['real', 'generated'], 'old'), generated_failed=['x'])
    bench.REF_JSON.write_text(json.dumps(old))
    bench.REF_ROWS.write_text(''.join(json.dumps(dict(group=g, key=g)) + '\n' for g in ('real', 'generated')))
    s, rows = bench.merge_reference(_summary(bench, ['real'], 'new'), [dict(group='real', key='new')], ['real'])
    assert s['table'] == {'generated': 'old generated', 'real': 'new real'} and s['generated_failed'] == ['x']
    assert [r['key'] for r in rows] == ['generated', 'new']


ROW = dict(structure='s', condition='c', solved=True, cpu_seconds=1.0)     # a benchmark row's fields that noise_pairs reads


def test_update_only_some_groups(bench):
    old = dict(_summary(bench, ['real', 'generated'], 'old'), generated_failed=[])
    bench.REF_JSON.write_text(json.dumps(old))
    bench.REF_ROWS.write_text(''.join(json.dumps(dict(ROW, group=g, key='old')) + '\n' for g in ('real', 'generated')))
    ran = _summary(bench, ['real', 'real · middle noise'], 'new')
    s, rows = bench.merge_reference(*bench.only_groups(ran, [dict(ROW, group='real', key='new'), dict(ROW, group='real · middle noise', key='new')], ['real · middle noise']))
    assert s['table'] == {'real': 'old real', 'generated': 'old generated', 'real · middle noise': 'new real · middle noise'}
    assert sorted((r['group'], r['key']) for r in rows) == [('generated', 'old'), ('real', 'old'), ('real · middle noise', 'new')]
    import argparse
    ns = argparse.Namespace(groups='real,measured', real_groups='all', noise=['middle'])
    assert bench.group_names(ns) == [bench.REAL_ANY, 'measured sets', 'measured sets · measured', f'{bench.REAL_ANY} · middle noise']
    with pytest.raises(SystemExit):                                       # a group the run does not run: refused before any structure is read
        bench.main(['--groups', 'real', '--real-groups', 'monoclinic', '--update-reference', '--update-groups', 'generated'])


def test_generated_groups(bench):
    import argparse
    ns = lambda which: argparse.Namespace(groups='generated', generated_groups=which, real_groups='all', noise=['middle'])
    assert bench.group_names(ns('monoclinic')) == ['generated', 'generated · middle noise']   # the committed 'generated' rows stay monoclinic
    assert bench.group_names(ns('organic')) == [bench.GEN_ANY, f'{bench.GEN_ANY} · middle noise']
    assert bench.group_names(ns('acentric')) == ['generated (P2₁, Cc)', 'generated (P2₁, Cc) · middle noise']
    assert bench.generated_spec('acentric').space_groups == ('P21', 'Cc')   # no centrosymmetric group among them


def test_noise_pairs_of_the_merged_file(bench):
    "A run of one noisy group writes the pairs of every noisy group in the merged reference, not only its own."
    row = lambda g, solved: dict(group=g, structure='s', condition='c', solved=solved, phased=solved, cpu_seconds=1.0, key=g)
    old = dict(_summary(bench, ['real', 'real · low noise'], 'old'), generated_failed=[])
    bench.REF_JSON.write_text(json.dumps(old))
    bench.REF_ROWS.write_text(''.join(json.dumps(r) + '\n' for r in (row('real', True), row('real · low noise', False))))
    ran = _summary(bench, ['real', 'real · high noise'], 'new')
    s, rows = bench.merge_reference(*bench.only_groups(ran, [row('real', True), row('real · high noise', True)], ['real · high noise']))
    assert sorted(s['noise_pairs']) == ['real · high noise', 'real · low noise']
    assert s['noise_pairs']['real · low noise']['c']['paired']['lost'] == 1


def test_another_version_is_not_kept(bench):
    bench.REF_JSON.write_text(json.dumps(dict(_summary(bench, ['generated'], 'old'), version=bench.B.VERSION - 1)))
    s, rows = bench.merge_reference(_summary(bench, ['real'], 'new'), [], ['real'])
    assert list(s['table']) == ['real'] and rows == []


def _rows():
    fam = [('a', 'triclinic', True), ('b', 'orthorhombic', False), ('c', 'orthorhombic', False), ('d', 'trigonal', False)]
    return [dict(group='real', structure=n, condition=c, crystal_system=cs, centric=ce, solved=(c == 'x' or n != 'c'), phased=True)
            for n, cs, ce in fam for c in ('x', 'y')]                 # c, y: phased, its atoms not found


def test_family_split(bench):
    s = bench.B.family_summary(_rows(), 'y')
    assert list(s) == ['triclinic', 'orthorhombic', 'trigonal'] and (s['orthorhombic']['solved'], s['orthorhombic']['n']) == (1, 2)
    assert s['orthorhombic']['ci'] == bench.B.wilson_interval(1, 2)
    assert bench.B.family_summary(_rows(), 'y', 'centric') == {'acentric': dict(n=3, solved=2, rate=0.6667, ci=bench.B.wilson_interval(2, 3), phased=3),
                                                             'centric': dict(n=1, solved=1, rate=1.0, ci=bench.B.wilson_interval(1, 1), phased=1)}
    tab = bench.family_markdown(_rows(), {'real': ['x', 'y']})
    assert '| y | 1/1 (21–100) · phased 1 | 1/2 (9–91) · phased 2 | 1/1 (21–100) · phased 1 |' in tab and '| condition | acentric | centric |' in tab
    with pytest.raises(ValueError, match="no field 'crystal_system'"):
        bench.B.family_summary([{k: v for k, v in r.items() if k != 'crystal_system'} for r in _rows()], 'y')


def test_real_groups(bench, cod):
    import argparse
    ns = lambda groups, names=(): argparse.Namespace(real_groups=groups, real_cases=list(names), quick=False)
    (every, left), (mono, _) = bench.real_group(ns('all')), bench.real_group(ns('monoclinic'))
    read = {Path(c.source[1]).name for c in every if c.source[0] == 'cif'}
    copies = {r['name'] for r in left if r['reason'].startswith('the same bytes as ')}
    assert read | copies == {p.name for p in cod.glob('*.cif')} and not read & copies      # every file is read, or is a copy of one read
    assert len(every) - 2 > len(read) and 40 <= len(mono) - 2 < len(every) - 2             # every block of a file, not only the first
    assert {c.group for c in every} == {bench.REAL_ANY} and {c.group for c in mono} == {'real'}   # the committed 'real' rows stay monoclinic
    assert [c.name for c in bench.real_group(ns('all', ['2211061:2211061']))[0]] == ['2211061:2211061']
    with pytest.raises(SystemExit, match='2211061'):
        bench.real_group(ns('monoclinic', ['2211061:2211061']))             # P-1: not among the monoclinic ones


def test_origin_cc_rows(bench):
    "--origin-cc adds each fixed-solver method again with the threshold, under its own name and cache key; the others stay as they were."
    import argparse
    a = argparse.Namespace(model=[], generated_model=[], reference_models=False, weights=[], solver=['fixed'], method=['float+recycle'],
                           smtbx_method=[], models_with=['smtbx'], d_low=1.2, d_high=1.0, cliff=[], cliff_fixed=[], from_d=[], origin_cc='0.7', runs=[])
    conds = bench.conditions(a, 'real')
    extra = [c for c in conds if c.min_cc is not None]
    assert [(c.name, c.min_cc, c.method) for c in extra] == [('float+recycle, origin cc ≥ 0.7 [600 cycles]', 0.7, 'float+recycle')]
    plain = next(c for c in conds if c.name == 'float+recycle [600 cycles]')
    case = bench.B.Case('real', 'x', ('sucrose',))
    assert bench.B.case_key(case, extra[0], 0, 4) == bench.B.case_key(case, bench.B.replace(extra[0], min_cc=None), 0, 4) + '|cc=0.7'
    assert plain.min_cc is None and '|cc=' not in bench.B.case_key(case, plain, 0, 4)      # the committed rows keep their keys
    assert len(bench.conditions(argparse.Namespace(**{**vars(a), 'origin_cc': None}), 'real')) == len(conds) - 1


def test_from_d_methods_and_runs(bench):
    "--from-d 'D:NAME,...' keeps only those methods (and the Wilson fill) from D Å; --runs NAME=K sets that method's runs and key; unknown names stop the run."
    import argparse
    a = argparse.Namespace(model=[], generated_model=[], reference_models=False, weights=[], solver=['fixed'], smtbx_method=[], models_with=['smtbx'],
                           method=['float', 'auto', 'float+recycle (32 runs)=float+recycle'], d_low=1.2, d_high=1.0, cliff=[], cliff_fixed=[],
                           from_d=[bench.from_d('1.5'), bench.from_d('2.0:auto')], origin_cc=None, runs=['float+recycle (32 runs)=32'])
    names = {c.name: c for c in bench.conditions(a, 'real')}
    assert {n for n in names if 'from 2.0' in n} == {'Wilson fill from 2.0 Å [600 cycles]', 'auto from 2.0 Å [600 cycles]'}
    assert {n for n in names if 'from 1.5' in n} == {f'{m} from 1.5 Å [600 cycles]' for m in ('Wilson fill', 'float', 'auto', 'float+recycle (32 runs)')}
    assert {n: c.max_runs for n, c in names.items() if c.max_runs != 8} == {'float+recycle (32 runs) [600 cycles]': 32, 'float+recycle (32 runs) from 1.5 Å [600 cycles]': 32}
    case = bench.B.Case('real', 'x', ('sucrose',))
    assert '|maxruns=32' in bench.B.case_key(case, names['float+recycle (32 runs) [600 cycles]'], 0, 4)
    assert bench.B.case_key(case, names['float [600 cycles]'], 0, 4).endswith('|fixed=600|maxruns=8')   # the other rows keep their keys
    with pytest.raises(SystemExit, match="'flaot'"):
        bench.conditions(argparse.Namespace(**{**vars(a), 'from_d': [bench.from_d('2.0:flaot')]}), 'real')
    with pytest.raises(argparse.ArgumentTypeError, match='1,5'):
        bench.from_d('1,5')
