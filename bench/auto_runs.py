"""Choose how many seeded runs `auto` gives float+recycle at 1.2 Å (`extension.AutoSettings`), on a dev split, never on the benchmark's structures.

float+recycle stops at the first run whose recycled model fits the measured |F| (R1 <= 0.2), so runs beyond the eighth cost
time only on the crystals that 8 runs leave unsolved. In the real group as committed at 31b5f27, 7 of the 18 structures that float+recycle left
unsolved from 1.2 Å are in P2₁2₁2₁, and 6 of those 7 solve from true 1.0 Å data. This bench solves --n crystals of MOSES
molecules of the 'dev' split (the 'test' split is the benchmark's, the 'train' split the models'), packed in the common
organic groups with equal weights (half of them non-centrosymmetric), seeds from DEV_SEED (neither the benchmark's nor
another dev bench's), with float+recycle from 1.2 Å to 1.0 Å (600 cycles per attempt, as the benchmark's fixed solver), once
for each candidate number of runs. The choice, made separately for centrosymmetric and non-centrosymmetric groups: most
structures solved; a tie goes to fewer runs. Paired counts and exact McNemar p against 8 runs are printed per candidate.

    python bench/auto_runs.py                       # runs/auto_runs/{cases.jsonl, summary.json}; resumable
    python bench/auto_runs.py --update-reference    # also reference/auto_runs.json (08c checks AutoSettings against it)
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import shlex, sys
from pathlib import Path
from xrdphase import benchmark as B
from xrdphase.core import derive_seed
sys.path.insert(0, str(Path(__file__).resolve().parent))   # bench/_dev.py, also when a test loads this file by path
from _dev import dev_args, dev_rows, dev_write  # noqa: E402

DEV_SEED = derive_seed(B.BENCH_SEED, 779)          # not the benchmark's seeds, nor bench/origin_cc.py's (777) or element_rules.py's (778)
CANDIDATES = (8, 16, 32, 64)
GROUP = 'dev (auto runs)'
FAMILIES = {'centrosymmetric': True, 'non-centrosymmetric': False}


def condition(runs:int) -> B.Condition:
    "float+recycle from 1.2 Å to 1.0 Å with the benchmark's fixed solver, at most `runs` seeded runs."
    return B.Condition(f'float+recycle, {runs} runs{B.FIXED_TAG}', 1.0, 1.2, 'float+recycle', fixed_cycles=600, max_runs=runs)


def choose(rows:list, centric:bool, candidates=CANDIDATES) -> dict:
    "On the rows of one family: per candidate solved k/n (95 % Wilson), paired against the first (8 runs) with exact p, CPU s; the chosen one (most solved, ties to fewer runs)."
    rows = [r for r in rows if r['centric'] == centric]
    base = {r['structure']: r['solved'] for r in rows if r['condition'] == condition(candidates[0]).name}
    table = {}
    for x in candidates:
        mine = {r['structure']: r for r in rows if r['condition'] == condition(x).name}
        names = sorted(mine)
        k = sum(mine[s]['solved'] for s in names)
        cpu = sorted(mine[s]['cpu_seconds'] for s in names)
        table[x] = dict(n=len(names), solved=k, ci95=list(B.wilson_interval(k, len(names))),
                        paired=B.mcnemar([mine[s]['solved'] for s in names], [base[s] for s in names]),
                        cpu_mean=round(sum(cpu) / max(len(cpu), 1), 2), cpu_median=cpu[len(cpu) // 2] if cpu else None)
    best = max(candidates, key=lambda x: (table[x]['solved'], -x))
    return dict(table={str(x): v for x, v in table.items()}, chosen=best)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    a = dev_args(__doc__, 'auto_runs', argv)
    rows, cases, failed, spec = dev_rows(a, DEV_SEED, GROUP, [condition(x) for x in CANDIDATES])
    out = dict(families={f: choose(rows, c) for f, c in FAMILIES.items()}, n=len(cases), generation_failed=len(failed),
               command=shlex.join(['python', 'bench/auto_runs.py'] + argv), split='dev', space_groups=list(spec.space_groups),
               seed=DEV_SEED, candidates=list(CANDIDATES),
               by_space_group={str(x): B.family_summary(rows, condition(x).name, 'space_group') for x in CANDIDATES})
    print(f"n = {len(cases)} dev crystals ({len(failed)} draws the generator refused), float+recycle from 1.2 Å, 600 cycles per attempt")
    for f, v in out['families'].items():
        print(f"\n{f}\n| runs | solved | 95 % CI | +/− vs 8 runs (p) | CPU s mean | CPU s median |\n|---|---|---|---|---|---|")
        for x, t in v['table'].items():
            p = t['paired']
            print(f"| {x} | {t['solved']}/{t['n']} | {t['ci95'][0]:.2f}–{t['ci95'][1]:.2f} | +{p['gained']}/−{p['lost']} ({p['p']:.2g}) | {t['cpu_mean']} | {t['cpu_median']} |")
        print(f"chosen: {v['chosen']} runs (most solved; a tie goes to fewer runs)")
    dev_write(a, 'auto_runs', out)


if __name__ == '__main__':
    main()
