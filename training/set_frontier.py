"""Set models for extension from 1.5 Å and from 2.0 Å (issue 23): candidates sized for 2 CPU cores, chosen on the dev split.

    python training/set_frontier.py --stage data|train|snapshot|choose|evaluate [--candidate NAME] [--update-reference]

Every candidate is one model conditioned on d_low: half of its training items are the pair 1.5 → 1.0 Å, the other half
random pairs with d_low in 1.0–2.1 Å and shells 0.1–1.1 Å wide (so 2.0 → 1.0 Å lies inside). The candidates differ in
size (CANDIDATES). Stages, each resumable:

- data: the stores of reference/set_model/make.py (MOSES train/dev/test molecule splits, data/setmodel; seeded, so a
  fresh machine makes the same structures again);
- train: one candidate (--candidate; one core each, run two at once), from runs/set_frontier/NAME/last.pt, or on a
  fresh machine from the committed snapshot training/set_frontier/NAME/;
- snapshot: copy each candidate's checkpoints (of a finished run: its weights and summary), config and log to
  training/set_frontier/NAME/, and the choice and evaluation of runs/set_frontier/, to commit as it goes;
- choose: every candidate whose training finished, on all dev-split structures (mol_dev) at d_low 1.5 and 2.0 Å; the
  lowest mean of the two ratios R_new / Wilson fill wins (runs/set_frontier/selection.json, or with --update-reference
  reference/set_frontier/selection.json);
- evaluate: the chosen model beside the committed set model (reference/set_model/model.pt) and the Wilson fill on the
  test split (mol_test) and COD, from 1.5 and from 2.0 Å, never seen by training or choice.

Run from the repository root, one thread per process: `OMP_NUM_THREADS=1 nice -n 10 python training/set_frontier.py ...`.
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json, shutil
from pathlib import Path
from xrdphase.core import atomic_write_text
from xrdphase.set_training import SetTrainConfig, train, make_store, evaluate_sets, table

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / 'training' / 'set_frontier'
RUNS = ROOT / 'runs' / 'set_frontier'
REF = ROOT / 'reference' / 'set_model'
STORE_ROOT = 'data/setmodel'
D_LOWS, D_HIGH = (1.5, 2.0), 1.0
RUNNING = ('last.pt', 'best.pt', 'log.jsonl', 'config.json')       # what a snapshot of a run in progress holds ...
FINISHED = ('model.pt', 'summary.json', 'log.jsonl', 'config.json')  # ... and of a finished one (no optimiser state)

CANDIDATES = {'d64': dict(d_model=64), 'd96': dict(d_model=96, hidden=48)}   # name: changes to the committed set model's architecture

def candidate(name:str) -> SetTrainConfig:
    "A candidate's training config: the committed set model's architecture and budget, its own size, the frontier's pairs."
    if name not in CANDIDATES: raise SystemExit(f"--candidate {name!r}: choose one of {sorted(CANDIDATES)}")
    base = json.loads((REF / 'config.json').read_text())
    model = dict(base['model'], **CANDIDATES[name])
    return SetTrainConfig.from_dict(dict(base, model=model, main=(D_LOWS[0], D_HIGH), d_low_range=(1.0, 2.1), shell_range=(0.1, 1.1),
                                         out=str(RUNS / name), progress=False))

def stage_data():
    n_train = json.loads((REF / 'config.json').read_text())['max_train']
    for name, n in (('mol_dev', None), ('mol_test', None), ('mol_train', n_train)):
        print(name, make_store(name, STORE_ROOT, n, workers=2, progress=False)['n_structures'], flush=True)

def _started(folder:Path) -> bool: return (folder / 'last.pt').exists() or (folder / 'summary.json').exists()

def restore_snapshot(run:Path, snap:Path) -> bool:
    "On a fresh machine (`run` neither in progress nor finished), copy the committed snapshot's files into `run`; True if it did."
    if _started(run) or not _started(snap): return False
    run.mkdir(parents=True, exist_ok=True)
    for f in RUNNING + FINISHED:
        if (snap / f).exists(): shutil.copyfile(snap / f, run / f)
    return True

def stage_train(name:str):
    cfg = candidate(name)
    if restore_snapshot(Path(cfg.out), SNAP / name): print(name, 'restored from the committed snapshot', SNAP / name, flush=True)
    if (Path(cfg.out) / 'summary.json').exists(): return print(name, 'finished:', (Path(cfg.out) / 'summary.json').read_text(), flush=True)
    print(json.dumps(train(cfg, resume=True)), flush=True)

def stage_snapshot():
    for name in CANDIDATES:
        run = RUNS / name
        if not _started(run): continue
        (SNAP / name).mkdir(parents=True, exist_ok=True)
        done = (run / 'summary.json').exists()
        for f in FINISHED if done else RUNNING:
            if (run / f).exists(): shutil.copyfile(run / f, SNAP / name / f)
        print(name, 'finished' if done else 'in progress', 'snapshot:', len((run / 'log.jsonl').read_text().splitlines()), 'log lines', flush=True)
    for f in ('selection.json', 'metrics.json'):                # the dev choice and the held-out evaluation of runs/, as logs
        if (RUNS / f).exists(): shutil.copyfile(RUNS / f, SNAP / f)

def finished() -> dict:
    "{name: model.pt} of the candidates whose training ran to its end (summary.json written)."
    return {n: str(RUNS / n / 'model.pt') for n in CANDIDATES if (RUNS / n / 'summary.json').exists()}

def _config(name:str) -> dict:
    "A finished candidate's training config, its run folder relative to the repository."
    cfg = json.loads((RUNS / name / 'config.json').read_text())
    return dict(cfg, out=str(Path(cfg['out']).relative_to(ROOT)))

def stage_choose(update:bool):
    weights = finished()
    if len(weights) < 2: raise SystemExit(f"choose: {len(weights)} finished candidates ({sorted(weights)}); a choice needs at least 2")
    res = {d: evaluate_sets(weights, ('mol_dev',), STORE_ROOT, d_low=d, d_high=D_HIGH) for d in D_LOWS}
    ratio = {n: sum(res[d]['sets']['mol_dev']['summary']['methods'][n]['ratio_to_wilson'] for d in D_LOWS) / len(D_LOWS) for n in weights}
    out = dict(d_lows=D_LOWS, d_high=D_HIGH, score='mean over d_low of R_new / Wilson fill on mol_dev', ratio=ratio,
               chosen=min(ratio, key=ratio.get), candidates={n: _config(n) for n in weights},
               results={str(d): {k: v for k, v in r.items() if k != 'weights'} for d, r in res.items()})
    path = (ROOT / 'reference' / 'set_frontier' if update else RUNS) / 'selection.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(out, indent=1))
    for d in D_LOWS: print(f'd_low {d}:\n' + table(res[d]))
    print('chosen:', out['chosen'], ratio, '| written:', path)

def stage_evaluate(update:bool):
    sel_path = (ROOT / 'reference' / 'set_frontier' if update else RUNS) / 'selection.json'
    chosen = json.loads(sel_path.read_text())['chosen']
    weights = {f'frontier ({chosen})': str(RUNS / chosen / 'model.pt'), 'set model (1.2 Å)': str(REF / 'model.pt')}
    res = {str(d): evaluate_sets(weights, ('mol_test', 'cod'), STORE_ROOT, d_low=d, d_high=D_HIGH) for d in D_LOWS}
    for r in res.values(): r['weights'] = {k: str(Path(v).relative_to(ROOT)) for k, v in r['weights'].items()}   # paths in the repository
    out = (ROOT / 'reference' / 'set_frontier' if update else RUNS)
    atomic_write_text(out / 'metrics.json', json.dumps(res, indent=1))
    if update: shutil.copyfile(RUNS / chosen / 'model.pt', out / 'model.pt')
    for d, r in res.items(): print(f'd_low {d}:\n' + table(r))
    print('written under', out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--stage', required=True, choices=('data', 'train', 'snapshot', 'choose', 'evaluate'))
    ap.add_argument('--candidate', default=None, help=f'with --stage train: one of {sorted(CANDIDATES)}')
    ap.add_argument('--update-reference', action='store_true')
    a = ap.parse_args()
    if a.stage == 'data': stage_data()
    elif a.stage == 'train': stage_train(a.candidate or ap.error('--stage train needs --candidate'))
    elif a.stage == 'snapshot': stage_snapshot()
    elif a.stage == 'choose': stage_choose(a.update_reference)
    elif a.stage == 'evaluate': stage_evaluate(a.update_reference)
