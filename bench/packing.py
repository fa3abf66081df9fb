"""Benchmark of the molecular-crystal generator: molecules packed per second (1 and 2 processes) and where the time goes.

Structures `molecular_structure_info(MolecularSpec(), derive_seed(seed, i))` for i < n (built-in SMILES, default
spec): end-to-end rate in one process and in a pool of `--workers` processes, time split into RDKit conformer
(ETKDG + MMFF), molecular volume (cctbx mask) and packing, contact evaluations per structure and µs per
evaluation. Baseline in the same run: the naive "place, then inflate until no clash" (same molecules, groups,
orientations drawn the same way) — its density and speed. Last line of output: one JSON object.
Usage: python bench/packing.py [--n 16] [--workers 2] [--seed 0]
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json, os, platform, time
from concurrent.futures import ProcessPoolExecutor
import numpy as np
from xrdphase import molecules as Mo, packing as P, molecular as M
import rdkit  # noqa: E402  (after xrdphase)
from xrdphase.core import derive_seed


def _one(args):
    spec, s = args
    xs, info = M.molecular_structure_info(spec, s)
    return dict(seconds=info['seconds'], n_eval=info['n_eval'], density=info['density'], pc=info['pc'], reached=info['reached'],
                tries=info['tries'], n_atoms=info['n_atoms'], source=info['source'])


def _stages(spec, seeds):
    "Time the three stages separately for the first structures' molecules."
    t, evals = dict(conformer=0., volume=0., packing=0.), 0
    for s in seeds:
        rng, smi = np.random.default_rng([s, 7]), spec.smiles_list()
        src = smi[int(rng.integers(len(smi)))]
        t0 = time.perf_counter()
        mol = Mo.molecule_from_smiles(src, derive_seed(s, 1))
        t1 = time.perf_counter()
        v = P.molecular_volume(mol)
        t2 = time.perf_counter()
        pk = P.pack_molecule(mol, 'P21/c', rng, pc_target=0.735, v_mol=v)
        t3 = time.perf_counter()
        for k, dt in (('conformer', t1 - t0), ('volume', t2 - t1), ('packing', t3 - t2)): t[k] += dt
        evals += pk.n_eval
    n = len(seeds)
    return {k: round(1000 * v / n, 1) for k, v in t.items()}, evals / n, t['packing'] / max(evals, 1) * 1e6


def _naive(spec, seeds):
    "Place the molecule (random orientation/position, same group), start from a cell just holding it, inflate by 2 % until clash-free."
    dens, secs = [], []
    for s in seeds:
        rng, smi = np.random.default_rng([s, 7]), spec.smiles_list()
        mol = Mo.molecule_from_smiles(smi[int(rng.integers(len(smi)))], derive_seed(s, 1))
        t0 = time.perf_counter()
        packer = P.RigidPacker(mol, 'P21/c')
        Q, t = P.random_rotation(rng), rng.uniform(0, 1, 3)
        e = 2 * packer.rho * np.exp(rng.uniform(-0.3, 0.3, 3))
        cell = [e[0], e[1], e[2], float(rng.uniform(92, 118))]
        while not packer.clash_free(cell, Q, t): cell = [x * 1.02 for x in cell[:3]] + [cell[3]]
        pk = P.Packing(cell=tuple(cell), Q=Q, t=t, space_group='P 1 21/c 1', z=4, pc_target=0, pc=0, reached=False, n_eval=packer.n_eval, seconds=0)
        xs = P.packing_structure(mol, pk)
        secs.append(time.perf_counter() - t0)
        dens.append(P.crystal_density(xs))
    return float(np.median(dens)), len(seeds) / sum(secs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=16, help='structures (default 16)')
    ap.add_argument('--workers', type=int, default=2, help='processes for the parallel rate (default 2)')
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args(argv)
    spec = M.MolecularSpec()
    seeds = [derive_seed(a.seed, i) for i in range(a.n)]
    Mo.molecule_from_smiles('CCO')                            # RDKit import and self-test outside the timings

    t0 = time.perf_counter()
    rows = [_one((spec, s)) for s in seeds]
    t1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ProcessPoolExecutor(a.workers) as ex: rows2 = list(ex.map(_one, [(spec, s) for s in seeds]))
    t2 = time.perf_counter() - t0
    assert [r['density'] for r in rows] == [r['density'] for r in rows2], 'parallel run differs from the serial one'
    stages, evals, us_eval = _stages(spec, seeds[:min(6, a.n)])
    naive_density, naive_rate = _naive(spec, seeds[:min(8, a.n)])
    dens, pc = np.array([r['density'] for r in rows]), np.array([r['pc'] for r in rows])
    out = dict(bench='packing', n=a.n, workers=a.workers,
               molecules_per_s_1proc=round(a.n / t1, 3), molecules_per_s_parallel=round(a.n / t2, 3), parallel_speedup=round(t1 / t2, 2),
               stage_ms_per_molecule=stages, contact_evals_per_packing=round(evals, 0), us_per_contact_eval=round(us_eval, 1),
               density_median=round(float(np.median(dens)), 4), density_iqr=[round(float(x), 4) for x in np.percentile(dens, [25, 75])],
               pc_median=round(float(np.median(pc)), 4), reached_target=round(float(np.mean([r['reached'] for r in rows])), 3),
               mean_tries=round(float(np.mean([r['tries'] for r in rows])), 2), mean_atoms=round(float(np.mean([r['n_atoms'] for r in rows])), 1),
               naive_inflate_density_median=round(naive_density, 4), naive_inflate_per_s=round(naive_rate, 2),
               density_gain_vs_naive=round(float(np.median(dens)) / naive_density, 2),
               rdkit=rdkit.__version__, cpu=platform.processor() or platform.machine(), cpus=os.cpu_count(),
               load_avg_1min=round(os.getloadavg()[0], 2))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
