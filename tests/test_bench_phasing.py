"bench/phasing.py: the committed reference is written only when asked, and a run of one group keeps the other groups."
import xrdphase  # noqa: F401
import importlib.util, json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bench(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location('bench_phasing', ROOT / 'bench' / 'phasing.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
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


def test_another_version_is_not_kept(bench):
    bench.REF_JSON.write_text(json.dumps(dict(_summary(bench, ['generated'], 'old'), version=bench.B.VERSION - 1)))
    s, rows = bench.merge_reference(_summary(bench, ['real'], 'new'), [], ['real'])
    assert list(s['table']) == ['real'] and rows == []
