"""Benchmark of the resolution-extension models on the D1 grid (26, 18, 23): parameters, training and inference speed.

For each architecture (UNet3D, FFT_UNet, FFT_UNet with the phase-keeping spectral branch, XRD_Transformer) and size
preset (thesis, small): `params`, `train_samples_per_s` (forward + backward + AdamW step, loss on new reflections; batch 4, the thesis-size transformer batch 1),
`infer_ms_per_structure` (eval, no grad, batch 8, divided by 8) and `infer_ms_batch1`. The same real samples (thesis
structures, seeds 0..7) for every model. For the transformer, `tokens` = mean tokens per structure (voxels inside the
0.8 Å sphere and the asu) against the 10,764 voxels the thesis model attended over (`token_fraction`).

Threads: `--threads 2` is applied only if multi-threaded MKL is correct in this process (see xrdphase.models.set_threads:
cctbx's stub OpenMP library can shadow torch's libgomp); run with LD_PRELOAD=<torch>/lib/libgomp.so.1 to get 2 threads.
The JSON reports the threads actually used. Last line of output: one JSON object.
Usage: python bench/models.py [--threads 2] [--sizes thesis,small] [--min-seconds 2]
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json, os, platform, time
import numpy as np
import torch
from xrdphase.crystal import random_structure
from xrdphase.diffraction import reflections
from xrdphase.grid import task_sample, GRIDS
from xrdphase.models import build_model, model_config, set_threads, tokenize
from xrdphase.training import loss_fn


def timed(fn, min_seconds, min_reps=2):
    fn()                                                    # warm-up
    reps, t0 = 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - t0 < min_seconds:
        fn()
        reps += 1
    return (time.perf_counter() - t0) / reps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--sizes', default='thesis,small')
    ap.add_argument('--task', default='d1')
    ap.add_argument('--min-seconds', type=float, default=2.0)
    a = ap.parse_args(argv)
    threads = set_threads(a.threads)
    ss = [task_sample(reflections(random_structure('thesis', s), 0.8, e_method=None), a.task) for s in range(8)]
    batch = {k: torch.stack([torch.as_tensor(s[k]) for s in ss]) for k in ss[0]}
    sub = lambda n: {k: v[:n] for k, v in batch.items()}
    tokens = tokenize(batch)[1].sum(1).float()
    models = [('unet', {}), ('fft_unet', {}), ('fft_unet_phase', dict(spectral='complex')), ('transformer', {})]
    out = dict(bench='models', task=a.task, grid=list(GRIDS[a.task].shape), voxels=GRIDS[a.task].size, threads=threads,
               tokens=round(float(tokens.mean()), 1), tokens_max=int(tokens.max()), token_fraction=round(float(tokens.mean()) / GRIDS[a.task].size, 4),
               models={})
    for size in a.sizes.split(','):
        for name, kw in models:
            arch = 'fft_unet' if name.startswith('fft') else name
            torch.manual_seed(0)
            m = build_model(model_config(arch, size, a.task, **kw))
            opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
            bt = 1 if (arch == 'transformer' and size == 'thesis') else 4     # memory: L x L attention weights with dropout
            tb = sub(bt)
            def step():
                opt.zero_grad()
                loss_fn(m(tb), tb, 'new').backward()
                opt.step()
            m.train()
            t_train = timed(step, a.min_seconds)
            m.eval()
            with torch.no_grad():
                t8 = timed(lambda: m(batch), a.min_seconds)
                t1 = timed(lambda: m(sub(1)), a.min_seconds / 2)
            out['models'][f'{name}/{size}'] = dict(params=sum(p.numel() for p in m.parameters()), train_batch=bt,
                                                   train_samples_per_s=round(bt / t_train, 2), infer_ms_per_structure=round(t8 / 8 * 1e3, 1),
                                                   infer_ms_batch1=round(t1 * 1e3, 1))
            print(name, size, out['models'][f'{name}/{size}'], flush=True)
    f = out['models'].get('fft_unet/thesis') or next(v for k, v in out['models'].items() if k.startswith('fft_unet/'))
    out['fft_unet_infer_ms_target'] = 50
    out['fft_unet_thesis_meets_target'] = bool(f['infer_ms_per_structure'] <= 50)
    out.update(cpu=platform.processor() or platform.machine(), cpus=os.cpu_count(), torch=torch.__version__)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
