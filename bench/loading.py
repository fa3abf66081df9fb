"""Loading speed: dense D1 batches with all masks (xrdphase.datasets.loader) vs a per-reflection Python loop as in the
original code, and peak memory while iterating a whole store.

- samples_per_s: `loader(store, 'd1', batch_size=32, shuffle=True)` — dense tensors + masks: input, target, known,
  new, absent, outside, scale as torch tensors, read from the memory-mapped store (samples_per_s_all_keys: also the
  per-voxel d, centric and epsilon arrays);
- loop_samples_per_s: the same structures, the original style: |F|^2 -> tensor by a Python loop over every reflection
  (target over the 0.8 A list, input over the 1.5 A list), divided by the input maximum, torch.stack per batch (no masks);
- speedup = samples_per_s / loop_samples_per_s (target >= 20), both measured in this run on the same store;
- peak_rss_mb: maximum resident set size of a fresh process iterating the whole store (--rss-store, e.g. a
  20,000-structure store from `bench/generation.py --scale 10000 20000 --keep DIR`), with its baseline after imports
  and the anonymous (non file-backed) peak: memory maps keep the store itself out of the process' own memory.

Prints one JSON line last.
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from cctbx import uctbx
from xrdphase import datasets as D
from xrdphase.diffraction import miller_indices
from xrdphase.grid import GRIDS


MASK_KEYS = ('input', 'target', 'known', 'new', 'absent', 'outside', 'scale')            # dense tensors + masks
ALL_KEYS = MASK_KEYS + ('d', 'centric', 'epsilon')                                    # + per-voxel d, centric, epsilon


def loop_batch(st, positions, d_low=1.5):
    "The original code's way: a Python loop per reflection (|F|^2 stored -> sqrt), input and target only."
    import torch
    g = GRIDS['d1']
    ins, tgs = [], []
    for p in positions:
        r = st.rows(int(p))
        ind_high = np.asarray(r['indices'])
        I_high = np.asarray(r['f'], np.float64) ** 2
        d = uctbx.unit_cell(r['cell']).d(miller_indices(ind_high)).as_numpy_array()
        ind_low = ind_high[d >= d_low]                       # the original stored this list separately
        tgt = np.zeros(g.shape, np.float32)
        inp = np.zeros(g.shape, np.float32)
        for (h, k, l), I in zip(ind_high, I_high): tgt[h + 13, k, l] = np.sqrt(I)
        for h, k, l in ind_low: inp[h + 13, k, l] = tgt[h + 13, k, l]
        m = inp.max()
        ins.append(torch.from_numpy(inp / m))
        tgs.append(torch.from_numpy(tgt / m))
    return torch.stack(ins), torch.stack(tgs)


RSS_CHILD = r'''
import xrdphase, json, sys, time, resource
import torch
from xrdphase.datasets import loader, open_store
def status():
    s = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
    return {k: int(s[k].split()[0]) / 1024 for k in ('VmRSS', 'RssAnon', 'RssFile')}
st = open_store(sys.argv[1]); base = status(); peak_anon = base['RssAnon']; n = 0; t = time.time()
for b in loader(st, 'd1', split=None, batch_size=int(sys.argv[2]), shuffle=True):
    n += len(b['position']); peak_anon = max(peak_anon, status()['RssAnon'])
print(json.dumps(dict(n=n, seconds=time.time() - t, base_rss_mb=base['VmRSS'], base_anon_mb=base['RssAnon'],
                      peak_anon_mb=peak_anon, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--store', default=None, help='store to read (default: simulate --n structures into a temporary folder)')
    ap.add_argument('--n', type=int, default=600, help='structures of the temporary store (default 600)')
    ap.add_argument('--samples', type=int, default=600, help='samples timed with the loader (default 600)')
    ap.add_argument('--loop-samples', type=int, default=96, help='samples timed with the loop (default 96)')
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--rss-store', default=None, help='store iterated whole in a fresh process for peak RSS (default: --store)')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=3)
    a = ap.parse_args()
    import torch
    tmp = None
    if a.store is None:
        tmp = tempfile.mkdtemp(prefix='xrdphase-load-')
        a.store = str(Path(tmp) / 'store')
        D.simulate(a.store, a.n, 'thesis', seed=99, chunk_size=200, workers=a.workers, progress=False)
    st = D.open_store(a.store)
    n_s = min(a.samples, len(st))
    n_l = min(a.loop_samples, len(st))
    dl = D.loader(st, 'd1', split=None, batch_size=a.batch_size, shuffle=True, seed=1)
    for b in dl: break                                                             # warm-up (maps, caches)
    loop_batch(st, range(2))
    best_fast, best_masks, best_loop = np.inf, np.inf, np.inf
    def run_loader(seed, keys):
        t = time.perf_counter()
        n = 0
        for b in D.loader(st, 'd1', split=None, batch_size=a.batch_size, shuffle=True, seed=seed, keys=keys):
            n += len(b['position'])
            if n >= n_s: break
        return (time.perf_counter() - t) / n
    for r in range(a.rounds):                                                     # interleaved, fastest round counts
        best_fast = min(best_fast, run_loader(r, ALL_KEYS))
        best_masks = min(best_masks, run_loader(r, MASK_KEYS))
        pos = np.random.default_rng(r).permutation(len(st))[:n_l]
        t = time.perf_counter()
        for i in range(0, n_l, a.batch_size): loop_batch(st, pos[i:i + a.batch_size])
        best_loop = min(best_loop, (time.perf_counter() - t) / n_l)
        print(f'round {r}: loader (all) {1 / best_fast:.0f}/s, loader (tensors + masks) {1 / best_masks:.0f}/s, loop {1 / best_loop:.0f}/s', file=sys.stderr)
    pos = np.random.default_rng(5).permutation(len(st))[:8]
    fast = st.batch(pos, 'd1')
    li, lt = loop_batch(st, pos)
    assert np.allclose(fast['input'], li.numpy(), rtol=1e-5) and np.allclose(fast['target'], lt.numpy(), rtol=1e-5)   # same tensors
    res = dict(store_structures=len(st), samples_timed=n_s, loop_samples_timed=n_l, batch_size=a.batch_size,
               mean_reflections=round(float(st.column('n_reflections').mean()), 1),
               samples_per_s=round(1 / best_masks, 1), loop_samples_per_s=round(1 / best_loop, 1), speedup=round(best_loop / best_masks, 2),
               samples_per_s_all_keys=round(1 / best_fast, 1), speedup_all_keys=round(best_loop / best_fast, 2))
    rss_store = a.rss_store or a.store
    r = subprocess.run([sys.executable, '-c', RSS_CHILD, rss_store, str(a.batch_size)], capture_output=True, text=True)
    if r.returncode:
        print(r.stderr[-3000:], file=sys.stderr)
        raise SystemExit(r.returncode)
    s = json.loads(r.stdout.strip().splitlines()[-1])
    info = D.info(rss_store, scan=False)
    res.update(rss_store_structures=s['n'], rss_store_mb=round(info['bytes'] / 2**20, 1), rss_iter_seconds=round(s['seconds'], 1),
               rss_samples_per_s=round(s['n'] / s['seconds'], 1), peak_rss_mb=round(s['peak_rss_mb'], 1),
               baseline_rss_mb=round(s['base_rss_mb'], 1), peak_rss_anon_mb=round(s['peak_anon_mb'], 1))
    if tmp:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(res))


if __name__ == '__main__':
    main()
