"training/set_frontier.py: the candidates' configs, resuming from a committed snapshot, and no 'choice' among fewer than two."
import xrdphase  # noqa: F401
import importlib.util, json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def frontier(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location('set_frontier', ROOT / 'training' / 'set_frontier.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, 'RUNS', tmp_path / 'runs')
    monkeypatch.setattr(mod, 'SNAP', tmp_path / 'snap')
    return mod


def test_candidates(frontier):
    base = json.loads((ROOT / 'reference' / 'set_model' / 'config.json').read_text())
    cfgs = {n: frontier.candidate(n) for n in frontier.CANDIDATES}
    assert len(cfgs) >= 2 and len({c.model['d_model'] for c in cfgs.values()}) == len(cfgs)    # candidates differ in size
    for c in cfgs.values():
        assert c.main == (1.5, 1.0) and c.d_low_range[1] >= 2.0 and c.d_low_range[1] - c.shell_range[1] <= 1.0   # 2.0 -> 1.0 Å inside
        assert c.max_train == base['max_train'] and c.model['block'] == base['model']['block']
    with pytest.raises(SystemExit, match='choose one of'): frontier.candidate('d1024')


def test_restore_snapshot(frontier, tmp_path):
    run, snap = tmp_path / 'runs' / 'd64', tmp_path / 'snap' / 'd64'
    assert not frontier.restore_snapshot(run, snap)              # nothing committed: a fresh start
    snap.mkdir(parents=True)
    for f in ('last.pt', 'log.jsonl'): (snap / f).write_text(f)
    assert frontier.restore_snapshot(run, snap) and (run / 'last.pt').read_text() == 'last.pt' and (run / 'log.jsonl').exists()
    (run / 'last.pt').write_text('newer')
    assert not frontier.restore_snapshot(run, snap) and (run / 'last.pt').read_text() == 'newer'   # a run in progress is never overwritten
    done, snap_done = tmp_path / 'runs' / 'd96', tmp_path / 'snap' / 'd96'
    snap_done.mkdir(parents=True)
    for f in ('model.pt', 'summary.json'): (snap_done / f).write_text(f)       # a finished run's snapshot: weights, no checkpoint
    assert frontier.restore_snapshot(done, snap_done) and (done / 'model.pt').read_text() == 'model.pt'


def test_choose_needs_two(frontier, tmp_path):
    (tmp_path / 'runs' / 'd64').mkdir(parents=True)
    (tmp_path / 'runs' / 'd64' / 'summary.json').write_text('{}')
    assert list(frontier.finished()) == ['d64']
    with pytest.raises(SystemExit, match='a choice needs at least 2'): frontier.stage_choose(False)
