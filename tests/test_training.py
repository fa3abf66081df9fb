"Tests of xrdphase.training: exact resume, refusals, fine-tuning, early stopping, CLI config, bf16 autocast, DDP on gloo."
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import json, os, shutil, socket, subprocess, sys
from pathlib import Path
import pytest
import torch
from xrdphase.datasets import simulate
from xrdphase.models import model_config, read_weights, ModelError
from xrdphase.training import train, TrainError, TrainConfig, load_checkpoint, add_cli, loss_fn, ssim3d

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='module')
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp('train')
    simulate(d / 'store', 16, 'thesis', seed=4, chunk_size=8, workers=1, progress=False)
    return d


def base(store, **kw):
    return dict(dict(data=str(store / 'store'), task='d2', fractions='0.75,0.25,0', epochs=2, batch_size=4, lr=3e-3, loss='new', seed=11,
                     progress=False, model=model_config('transformer', 'tiny', 'd2', tokens='reflections')), **kw)


def lines(d): return [json.loads(l) for l in (Path(d) / 'metrics.jsonl').read_text().splitlines()]


def test_resume_gives_identical_losses_and_weights(store):
    train(base(store, out=str(store / 'A')))

    class Crash(Exception): pass
    def crash(epoch, rec):
        if epoch == 0: raise Crash
    with pytest.raises(Crash): train(base(store, out=str(store / 'B')), on_epoch_end=crash)
    ck = load_checkpoint(store / 'B' / 'last.pt')
    assert ck['epoch'] == 0 and set(ck['rng']) >= {'torch', 'numpy_json', 'python_json'} and ck['optimizer']['state']
    with open(store / 'B' / 'metrics.jsonl', 'a') as f: f.write('{"epoch": 1, "train_lo')     # a kill in mid-write
    s = train(base(store, out=str(store / 'B')), resume=True)
    assert s['epochs_run'] == 1
    la, lb = lines(store / 'A'), lines(store / 'B')
    assert [r['epoch'] for r in lb] == [0, 1]
    assert [(r['train_loss'], r['val_loss'], r['val_R_new']) for r in la] == [(r['train_loss'], r['val_loss'], r['val_R_new']) for r in lb]
    wa, wb = read_weights(store / 'A' / 'model.pt')['state_dict'], read_weights(store / 'B' / 'model.pt')['state_dict']
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # a different seed gives a different run (the comparison above is not vacuous)
    train(base(store, out=str(store / 'S'), seed=12, epochs=1))
    assert lines(store / 'S')[0]['train_loss'] != la[0]['train_loss']


def test_refusals(store):
    if not (store / 'A' / 'last.pt').exists(): train(base(store, out=str(store / 'A'), epochs=1))
    with pytest.raises(TrainError, match='exists'): train(base(store, out=str(store / 'A')))
    with pytest.raises(TrainError, match='checkpoint of model'):
        train(base(store, out=str(store / 'A'), model=model_config('unet', 'tiny', 'd2')), resume=True)
    with pytest.raises(TrainError, match='differs'): train(base(store, out=str(store / 'A'), lr=1e-2), resume=True)
    with pytest.raises(ModelError, match='does not fit model'):
        train(base(store, out=str(store / 'X'), model=model_config('transformer', 'tiny', 'd2', d_model=48), init=str(store / 'A' / 'model.pt')))
    with pytest.raises(TrainError, match='unknown keys'): TrainConfig.from_dict(dict(data='x', modle={}))
    with pytest.raises(TrainError, match='loss'): train(base(store, out=str(store / 'Y'), loss='l1'))
    with pytest.raises(FileNotFoundError): train(base(store, out=str(store / 'Z'), data=str(store / 'nope')))


def test_finetune_and_early_stopping(store):
    src = store / 'A' / 'model.pt'
    if not src.exists(): train(base(store, out=str(store / 'A'), epochs=1))
    s = train(base(store, out=str(store / 'F'), model=None, init=str(src), lr=1e-4, epochs=1))
    assert s['epochs_run'] == 1 and read_weights(store / 'F' / 'model.pt')['config'] == read_weights(src)['config']
    e = train(base(store, out=str(store / 'E'), epochs=25, lr=0.5, patience=1, scheduler='none', max_train=4))
    assert e['stopped_early'] and e['epochs_run'] < 25
    rec = lines(store / 'E')
    assert all({'epoch', 'train_loss', 'val_loss', 'val_R_full', 'val_R_new', 'lr', 'cpu_seconds', 'wall_seconds'} <= set(r) for r in rec)


def test_cli_config_file_and_flag_override(store):
    import argparse, contextlib, io
    cfg = store / 'cfg.json'
    cfg.write_text(json.dumps(dict(base(store, out=str(store / 'cli'), epochs=5), model=model_config('unet', 'tiny', 'd2'))))
    ap = argparse.ArgumentParser()
    add_cli(ap.add_subparsers(dest='cmd'))
    a = ap.parse_args(['train', '--config', str(cfg), '--epochs', '1', '--loss', 'all', '--quiet'])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): assert a.func(a) == 0
    out = json.loads(buf.getvalue())
    saved = json.loads((store / 'cli' / 'config.json').read_text())
    assert out['epochs_run'] == 1 and saved['epochs'] == 1 and saved['loss'] == 'all' and saved['model']['arch'] == 'unet'


def test_bf16_autocast_path_runs(store):
    s = train(base(store, out=str(store / 'amp'), epochs=1, amp='bf16', model=model_config('fft_unet', 'tiny', 'd2')))
    assert s['epochs_run'] == 1 and torch.isfinite(torch.tensor(lines(store / 'amp')[0]['train_loss']))


def test_losses():
    t = torch.rand(2, 6, 5, 4)
    b = dict(target=t, outside=torch.zeros_like(t, dtype=torch.bool), new=torch.ones_like(t, dtype=torch.bool))
    assert loss_fn(t, b, 'all') == 0 and loss_fn(t, b, 'new') == 0
    assert torch.isclose(loss_fn(t + 0.1, b, 'new'), torch.tensor(0.01)) and torch.isclose(ssim3d(t, t), torch.tensor(1.0))
    assert loss_fn(t + 0.1, b, 'new', ssim_weight=1.0) > loss_fn(t + 0.1, b, 'new')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_ddp_two_gloo_processes_match_one_process(store):
    "torchrun with 2 CPU processes (batch 4 each) == one process with batch 8 (full-batch steps, no BatchNorm, mean loss)."
    script = store / 'run_train.py'
    script.write_text("import xrdphase, sys\nfrom xrdphase.training import main\nraise SystemExit(main(sys.argv[1:]))\n")
    common = ['--data', str(store / 'store'), '--task', 'd2', '--arch', 'unet', '--size', 'tiny', '--model-json', '{"norm": "instance"}',
              '--fractions', '0.5,0.5,0', '--val-data', '', '--epochs', '2', '--loss', 'all', '--quiet']
    torchrun = Path(sys.executable).parent / 'torchrun'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run([str(torchrun), '--nnodes', '1', '--nproc_per_node', '2', '--master_addr', '127.0.0.1', '--master_port', str(_free_port()),
                        str(script), *common, '--batch-size', '4', '--out', str(store / 'ddp')], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    printed = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    assert len(printed) == 1 and printed[0]['world_size'] == 2                      # rank 0 only reports
    train(dict(data=str(store / 'store'), task='d2', model=model_config('unet', 'tiny', 'd2', norm='instance'), fractions='0.5,0.5,0',
               val_data='', epochs=2, loss='all', batch_size=8, out=str(store / 'single'), progress=False))     # CLI defaults otherwise
    ld, ls = lines(store / 'ddp'), lines(store / 'single')
    assert [r['world_size'] for r in ld] == [2, 2] and [r['samples'] for r in ld] == [8, 8]
    for a, b in zip(ld, ls): assert abs(a['train_loss'] - b['train_loss']) <= 1e-5 * abs(b['train_loss'])
    wd, ws = read_weights(store / 'ddp' / 'model.pt')['state_dict'], read_weights(store / 'single' / 'model.pt')['state_dict']
    assert all(torch.allclose(wd[k], ws[k], atol=1e-5, rtol=1e-4) for k in wd)
