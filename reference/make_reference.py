"""Reference runs of issue 5 (sized for 2 shared CPU cores): pretrain on synthetic structures, fine-tune on part of COD,
evaluate on held-out synthetic structures and on the remaining COD structures plus thpp and sucrose; baselines through the
same evaluation path. Writes reference/weights/*.pt (float16 state dicts, weights_only-loadable), reference/configs/*.json,
reference/logs/*.jsonl and reference/metrics.json. Resumable: finished runs are skipped, interrupted ones resume.

Stores (git-ignored data/, made first if missing):
  xrdphase simulate --n 3000 --out data/synth --seed 2025 --preset thesis
  xrdphase ingest-cif ../shared/cod --out data/cod
  xrdphase ingest-cif data/empty --out data/extras --cctbx-extras
Usage: python reference/make_reference.py [--tasks d2,d1] [--archs unet,fft_unet,transformer] [--quick]
  Issue 14's transformer with absence tokens (D2 only):
  OMP_NUM_THREADS=1 nice -n 10 python reference/make_reference.py --tasks d2 --archs transformer_abs
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json, shutil, subprocess, sys, time
from pathlib import Path
import torch
from xrdphase.core import atomic_write_text, cod_dir
from xrdphase.models import model_config, load_model, save_weights, read_weights
from xrdphase.training import train
from xrdphase.datasets import dataset
from xrdphase.evaluation import evaluate_data

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / 'reference'
RUNS = ROOT / 'runs' / 'reference'
DATA = ROOT / 'data'
SYN_FR, COD_FR = '0.8,0.1,0.1', '0.5,0.1,0.4'
N_SYN_TEST = 200

TRANSFORMER_ABS_TRAIN, TRANSFORMER_ABS_EPOCHS = 2400, 1

# per (task, arch): pretraining budget chosen from measured CPU speed so each model gets ~3-4 minutes (1 thread)
MODELS = {'unet': dict(arch='unet', size='small'), 'fft_unet': dict(arch='fft_unet', size='small'),
          'transformer': dict(arch='transformer', size='small', tokens='reflections', attn_dropout=0.0),
          # not a thesis model: the UNet given the Wilson extrapolation as an input channel, predicting a correction to it
          'unet_wilson': dict(arch='unet', size='small', features=['input', 'known', 'new', 's', 'wilson'], residual=True),
          # the thesis' attention question (fig. 3.5, issue 14): systematic absences are tokens with a type of their own
          # (never in the loss, which covers the new reflections only), so the blocks can link them or ignore them
          'transformer_abs': dict(arch='transformer', size='small', tokens='sphere', features=['input', 'known', 'new', 'absent', 's'],
                                  attn_dropout=0.0)}
PRE = {'d2': {'unet': dict(max_train=2000, epochs=2, lr=3e-3), 'fft_unet': dict(max_train=1500, epochs=2, lr=3e-3),
              'transformer': dict(max_train=800, epochs=1, lr=1e-3), 'unet_wilson': dict(max_train=2000, epochs=2, lr=1e-3),
              # sized for ONE shared CPU core, <= 45 min with fine-tuning and evaluation (issue 14; measured in metrics.json)
              'transformer_abs': dict(max_train=TRANSFORMER_ABS_TRAIN, epochs=TRANSFORMER_ABS_EPOCHS, lr=1e-3)},
       'd1': {'unet': dict(max_train=1100, epochs=2, lr=3e-3), 'fft_unet': dict(max_train=650, epochs=2, lr=3e-3),
              'transformer': dict(max_train=200, epochs=1, lr=1e-3), 'unet_wilson': dict(max_train=1100, epochs=2, lr=1e-3)}}
FT = {'unet': dict(epochs=8, lr=3e-4), 'fft_unet': dict(epochs=8, lr=3e-4), 'transformer': dict(epochs=3, lr=1e-4),
      'unet_wilson': dict(epochs=8, lr=1e-4), 'transformer_abs': dict(epochs=3, lr=1e-4)}


def make_stores():
    xr = [str(Path(sys.executable).parent / 'xrdphase')]
    if not (DATA / 'synth' / 'manifest.json').exists():
        subprocess.run(xr + ['simulate', '--n', '3000', '--out', str(DATA / 'synth'), '--seed', '2025', '--preset', 'thesis', '--workers', '1', '--quiet'], check=True)
    if not (DATA / 'cod' / 'manifest.json').exists():
        cod = cod_dir()
        if cod is None: raise SystemExit('COD structures not found (../shared/cod): cannot fine-tune')
        subprocess.run(xr + ['ingest-cif', str(cod), '--out', str(DATA / 'cod'), '--workers', '1', '--quiet'], check=True, stdout=subprocess.DEVNULL)
    if not (DATA / 'extras' / 'manifest.json').exists():
        (DATA / 'empty').mkdir(parents=True, exist_ok=True)
        subprocess.run(xr + ['ingest-cif', str(DATA / 'empty'), '--out', str(DATA / 'extras'), '--cctbx-extras', '--quiet'], check=True, stdout=subprocess.DEVNULL)


def run(name, cfg):
    out = RUNS / name
    if (out / 'summary.json').exists(): return json.loads((out / 'summary.json').read_text())
    return train(dict(cfg, out=str(out)), resume=(out / 'last.pt').exists())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tasks', default='d2,d1'); ap.add_argument('--archs', default='unet,fft_unet,transformer')
    ap.add_argument('--quick', action='store_true', help='tiny budgets (smoke test), into runs/reference-quick; nothing copied')
    a = ap.parse_args(argv)
    global RUNS
    if a.quick: RUNS = ROOT / 'runs' / 'reference-quick'
    t_all = time.time()
    torch.set_num_threads(1)          # measured: on 2 shared, busy cores one thread trains 4-8x faster than two
    make_stores()
    metrics_path = REF / 'metrics.json'
    M = json.loads(metrics_path.read_text()) if metrics_path.exists() and not a.quick else {}
    M.setdefault('runs', {}); M.setdefault('results', {})
    evals = dict(synthetic=dict(data=[f'{DATA}/synth:test'], fractions=SYN_FR, limit=N_SYN_TEST if not a.quick else 8, drop=False),
                 cod=dict(data=[f'{DATA}/cod:test', f'{DATA}/extras:all'], fractions=COD_FR, limit=None if not a.quick else 4, drop=True),
                 extras=dict(data=[f'{DATA}/extras:all'], fractions=COD_FR, limit=None, drop=True))
    for task in a.tasks.split(','):
        res = M['results'].setdefault(task, {})
        for where, ev in evals.items():                                        # baselines once per task and data
            if 'zero' not in res.get(where, {}) or a.quick:
                r = evaluate_data((), ev['data'], task, ('zero', 'wilson'), 8, ev['limit'], ev['fractions'], drop=ev['drop'])
                res.setdefault(where, {}).update({k: dict(v, n=r['n']) for k, v in r['baselines'].items()})
        for arch in a.archs.split(','):
            mk = dict(MODELS[arch]); mcfg = model_config(mk.pop('arch'), mk.pop('size'), task, **mk)
            if arch not in PRE[task]: raise SystemExit(f"make_reference: no pretraining budget for {arch} on {task} (PRE[{task!r}] has {sorted(PRE[task])})")
            pre = dict(PRE[task][arch])
            if a.quick: pre.update(max_train=8, epochs=1)
            key = f'{task}_{arch}'
            cfg_pre = dict(data=f'{DATA}/synth:train', model=mcfg, task=task, fractions=SYN_FR, loss='new', batch_size=8, max_val=100 if not a.quick else 4,
                           scheduler='cosine', seed=42, progress=False, threads=1, **pre)
            t0 = time.time(); s_pre = run(f'{key}_pre', cfg_pre); t_pre = time.time() - t0
            ft = dict(FT[arch], epochs=1) if a.quick else FT[arch]
            cfg_ft = dict(data=f'{DATA}/cod:train', val_data=f'{DATA}/cod:val', init=str(RUNS / f'{key}_pre' / 'model.pt'), model=None, task=task,
                          fractions=COD_FR, drop=True, loss='new', batch_size=4, scheduler='cosine', seed=42, progress=False, threads=1, **ft)
            t0 = time.time(); s_ft = run(f'{key}_ft', cfg_ft); t_ft = time.time() - t0
            for stage, s, t in (('pre', s_pre, t_pre), ('ft', s_ft, t_ft)):
                rd = RUNS / f'{key}_{stage}'
                M['runs'][f'{key}_{stage}'] = dict(summary=s, wall_s_this_invocation=round(t, 1),
                                                   config=json.loads((rd / 'config.json').read_text()),
                                                   params=sum(p.numel() for p in load_model(rd / 'model.pt').parameters()))
                for where, ev in evals.items():
                    r = evaluate_data([rd / 'model.pt'], ev['data'], task, (), 8, ev['limit'], ev['fractions'], drop=ev['drop'])
                    res.setdefault(where, {})[f'{arch}/{stage}'] = dict(next(iter(r['models'].values())), n=r['n'])
                print(json.dumps(dict(run=f'{key}_{stage}', cpu_seconds=s['cpu_seconds'], synthetic_R_new=res['synthetic'][f'{arch}/{stage}']['R_new'],
                                      cod_R_new=res['cod'][f'{arch}/{stage}']['R_new'], cod_R_full=res['cod'][f'{arch}/{stage}']['R_full'])), flush=True)
                if not a.quick:
                    (REF / 'weights').mkdir(parents=True, exist_ok=True); (REF / 'configs').mkdir(exist_ok=True); (REF / 'logs').mkdir(exist_ok=True)
                    w = read_weights(rd / 'model.pt')
                    m = load_model(rd / 'model.pt')
                    save_weights(m, REF / 'weights' / f'{key}_{stage}.pt', meta=dict(w['meta'], run=f'{key}_{stage}'), half=True)
                    shutil.copy(rd / 'config.json', REF / 'configs' / f'{key}_{stage}.json')
                    shutil.copy(rd / 'metrics.jsonl', REF / 'logs' / f'{key}_{stage}.jsonl')
            if not a.quick: atomic_write_text(metrics_path, json.dumps(M, indent=1))
    n_syn = {t: len(dataset(f'{DATA}/synth:{t}', 'd2', fractions=(0.8, 0.1, 0.1))) for t in ('train', 'val', 'test')}
    n_cod = {t: len(dataset(f'{DATA}/cod:{t}', 'd2', fractions=(0.5, 0.1, 0.4))) for t in ('train', 'val', 'test')}
    prev = M.get('budget', {})
    inv = prev.get('invocations') or ([dict(archs='unet,fft_unet,transformer', tasks='d2,d1', wall_s=prev['wall_s_total_this_invocation'])]
                                      if 'wall_s_total_this_invocation' in prev else [])
    inv = inv + [dict(archs=a.archs, tasks=a.tasks, wall_s=round(time.time() - t_all, 1))]
    M['budget'] = dict(synthetic_store=dict(n=3000, preset='thesis', seed=2025, splits=n_syn, test_used=N_SYN_TEST),
                       cod_store=dict(splits=n_cod, extras=['thpp', 'sucrose'], drop_outside_grid=True),
                       pretrain=PRE, finetune=FT, models=MODELS, threads=torch.get_num_threads(), loss='new (MSE on new reflections)',
                       invocations=inv, wall_s_total=round(sum(i['wall_s'] for i in inv), 1),
                       train_seconds_total=round(sum(r['summary'].get('wall_seconds', r['summary'].get('seconds', 0)) for r in M['runs'].values()), 1),
                       train_cpu_seconds_total=(round(sum(r['summary']['cpu_seconds'] for r in M['runs'].values()), 1)   # None until every run measured CPU time
                                                if all('cpu_seconds' in r['summary'] for r in M['runs'].values()) else None))
    if not a.quick: atomic_write_text(metrics_path, json.dumps(M, indent=1))
    print(json.dumps(M['budget']))


if __name__ == '__main__':
    main()
