"""Choose how refinement revisits elements (`refinement.ElementRules`) on a dev split, never on the benchmark's structures.

`refine` assigns elements again after the first isotropic cycles: from the Fo map's heights, then (new in issue 21) from
refined electron counts (occupancy and U refined together, count = occupancy x Z), then tests pairwise swaps by U. This bench
solves --n crystals of MOSES molecules of the 'dev' split (the 'test' split is the benchmark's, the 'train' split the
models'), packed in the common organic groups at their CSD shares, seeds from DEV_SEED (neither the benchmark's nor
bench/origin_cc.py's), from calculated 1.0 A data with the benchmark's fixed solver, as `bench/refinement.py --cod all
--d-min 1.0` does for the real group. Each solved crystal's peaks get elements once; each candidate refines them. The choice:
fewest atoms with a wrong element over all crystals; a tie goes to the earlier candidate (the simpler). A second choice,
added later on the same crystals, builds on the first: atoms added from difference-map peaks (`max_added`), chosen by fewest
reference atoms not right (missing, or with a wrong element); a tie goes to fewer atoms added. A third, on the second's
choice and by the same rule, moves false atoms (the light atom of largest U) to difference-map peaks (`max_moved`); a tie
goes to fewer moves. A fourth, on the third's, tries more swaps by U and swaps that valences would refuse (`max_swaps`,
`swap_slack`). Every candidate's row is
printed: crystals with elements right for >= 90 % of atoms (95 % Wilson), wrong atoms, missing atoms, confusions, R1, CPU s.

    python bench/element_rules.py                       # runs/element_rules/{rows.jsonl, summary.json}; resumable
    python bench/element_rules.py --update-reference    # also reference/refinement/element_rules.json
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json, shlex, sys, time
from collections import Counter
from dataclasses import asdict
from multiprocessing import Pool
from pathlib import Path
import numpy as np
from xrdphase import benchmark as B
from xrdphase.core import atomic_write_text, derive_seed
from xrdphase.crystal import unit_cell_content
from xrdphase.molecular import MolecularSpec, COMMON_ORGANIC_GROUPS
from xrdphase.refinement import (ElementRules, RefinementError, asu_content, assign_elements, observations, refine, solution_element_pairs,
                                 solution_peaks)
from xrdphase.success import evaluate

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / 'reference' / 'refinement' / 'element_rules.json'
DEV_SEED = derive_seed(B.BENCH_SEED, 778)
def _rules(from_counts=True, counts_sigma=0.5, max_swaps=4, max_added=0, max_moved=0, swap_slack=0.0) -> ElementRules:
    "Every field given: a candidate stays what its cached rows were computed with when ElementRules' defaults change."
    return ElementRules(from_map=True, from_counts=from_counts, counts_sigma=counts_sigma, max_swaps=max_swaps, max_added=max_added,
                        max_moved=max_moved, swap_slack=swap_slack)

ELEMENTS = {'Fo map only (before)': _rules(from_counts=False),       # the first choice: fewest wrong atoms
            'Fo map, electron counts (sigma 1.2 e)': _rules(counts_sigma=1.2),
            'Fo map, electron counts (sigma 0.5 e)': _rules(),
            'Fo map, electron counts (sigma 0.5 e), 8 swaps': _rules(max_swaps=8)}
BASE = 'Fo map, electron counts (sigma 0.5 e), 8 swaps'              # the first choice, which the second builds on
ADDED = {BASE: ELEMENTS[BASE],                                       # the second: fewest atoms not right, missing ones counted
         '+ up to 2 atoms from the difference map': _rules(max_swaps=8, max_added=2),
         '+ up to 6 atoms from the difference map': _rules(max_swaps=8, max_added=6)}
ADDED_CHOICE = '+ up to 2 atoms from the difference map'            # the second choice, which the third builds on
MOVED = {ADDED_CHOICE: ADDED[ADDED_CHOICE],                          # the third: fewest atoms not right, as the second
         '+ 1 false atom moved to a difference-map peak': _rules(max_swaps=8, max_added=2, max_moved=1),
         '+ up to 3 false atoms moved to difference-map peaks': _rules(max_swaps=8, max_added=2, max_moved=3)}
MOVED_CHOICE = '+ up to 3 false atoms moved to difference-map peaks'  # the third choice, which the fourth builds on
SWAPS = {MOVED_CHOICE: MOVED[MOVED_CHOICE],                          # the fourth: fewest atoms not right, as the second
         '+ swaps that raise the valence cost by up to 1': _rules(max_swaps=8, max_added=2, max_moved=3, swap_slack=1.0),
         '+ up to 24 swaps': _rules(max_swaps=24, max_added=2, max_moved=3),
         '+ up to 24 swaps that raise the valence cost by up to 1': _rules(max_swaps=24, max_added=2, max_moved=3, swap_slack=1.0)}
NOT_RIGHT = 'fewest atoms not right (wrong or missing); a tie to the earlier'
STEPS = [(ELEMENTS, 'fewest wrong atoms; a tie to the earlier', BASE),      # (candidates, rule, the choice the next step builds on)
         (ADDED, NOT_RIGHT, ADDED_CHOICE), (MOVED, NOT_RIGHT, MOVED_CHOICE), (SWAPS, NOT_RIGHT, None)]
CANDIDATES = {k: v for cands, _, _ in STEPS for k, v in cands.items()}
CONDITION = B.Condition(f'true 1.0 Å{B.FIXED_TAG}', 1.0, **B.SOLVERS['fixed'])


def run_crystal(job) -> list:
    "One row per candidate named for a dev crystal (one row, solved False, if the solver found no solution)."
    case, names = job
    xs_ref, rec = B.load_case(case, 1.0)
    fo_sq = observations(rec)
    sol, _ = B.condition_solution(CONDITION, rec, xs_ref, B.case_seed(case), 8)
    ev = evaluate(sol, xs_ref)
    base = dict(structure=case.name, solved=bool(ev['solved']), n_ref=int(ev['n_ref']))
    if sol.chosen < 0: return [dict(base, candidate=None)]
    asu = asu_content(unit_cell_content(xs_ref), fo_sq.crystal_symmetry())
    atoms = assign_elements(*solution_peaks(sol, asu), asu, fo_sq.crystal_symmetry())
    rows = []
    for name in names:
        rules, t = CANDIDATES[name], time.process_time()
        try:
            r = refine(atoms, fo_sq, asu, rules=rules)
            pairs = solution_element_pairs(sol, r.xs, xs_ref)
            matched, wrong = len(pairs), [f'{a}->{b}' for a, b in pairs if a != b]
            rows.append(dict(base, candidate=name, r1=round(r.r1_gt, 4), wrong=wrong, right=matched - len(wrong),
                             cpu_s=round(time.process_time() - t, 2)))
        except RefinementError as e:
            rows.append(dict(base, candidate=name, error=str(e)[:160], cpu_s=round(time.process_time() - t, 2)))
    return rows


def _table(by:dict, common:list) -> dict:
    "Per candidate over the `common` crystals: crystals >= 90 % right (Wilson), wrong and missing atoms, confusions, mean R1, CPU."
    table = {}
    for c, v in by.items():
        mine = [v[s] for s in common]
        k = sum(r['right'] >= 0.9 * r['n_ref'] for r in mine)      # as bench/refinement.py's elements >= 0.9
        table[c] = dict(rules=asdict(CANDIDATES[c]), n=len(mine), elements_90=k, ci95=list(B.wilson_interval(k, len(mine))),
                        wrong_atoms=sum(len(r['wrong']) for r in mine), missing_atoms=sum(r['n_ref'] - r['right'] - len(r['wrong']) for r in mine),
                        atoms=sum(r['n_ref'] for r in mine), confusions=dict(Counter(w for r in mine for w in r['wrong']).most_common()),
                        r1_mean=round(float(np.mean([r['r1'] for r in mine])), 4), cpu_mean=round(float(np.mean([r['cpu_s'] for r in mine])), 2),
                        not_refined=sum('error' in r for r in v.values()))
    return table


def choose(rows:list, n_cases:int) -> dict:
    "The choices of STEPS in turn over the crystals every candidate refined: each among its candidates, the first of which is the choice before it."
    by = {c: {r['structure']: r for r in rows if r.get('candidate') == c} for c in CANDIDATES}
    common = sorted(set.intersection(*(set(s for s, r in v.items() if 'r1' in r) for v in by.values())))
    table = _table(by, common)
    e90 = lambda c: [by[c][s]['right'] >= 0.9 * by[c][s]['n_ref'] for s in common]
    steps = []
    for k, (cands, rule, built_on) in enumerate(STEPS):
        names = list(cands)
        score = (lambda c: table[c]['wrong_atoms']) if k == 0 else (lambda c: table[c]['wrong_atoms'] + table[c]['missing_atoms'])
        chosen = min(names, key=lambda c: (score(c), names.index(c)))
        steps.append(dict(candidates=names, rule=rule, chosen=chosen) if k == 0 else
                     dict(candidates=names, rule=rule, chosen=chosen, base=names[0], paired_90=B.mcnemar(e90(chosen), e90(names[0]))))   # crystals >= 90 % right
        if built_on is not None and chosen != built_on:
            raise SystemExit(f"element_rules: step {k + 1}'s choice is now {chosen!r}, not {built_on!r}: build the next step on it and run again")
    unsolved = n_cases - len({r['structure'] for r in rows if r.get('candidate')})
    return dict(table=table, steps=steps, chosen=chosen, chosen_rules=asdict(CANDIDATES[chosen]), n_crystals=n_cases, n_compared=len(common),
                no_solution=unsolved)


def to_run(rows:list) -> list:
    "The candidates a crystal's cached rows lack (none where the solver found no solution)."
    if any(r['candidate'] is None for r in rows): return []
    return [n for n in CANDIDATES if n not in {r['candidate'] for r in rows}]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=120, help='dev crystals (default 120, as the committed choice)')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--out', default=str(ROOT / 'runs' / 'element_rules'))
    ap.add_argument('--update-reference', action='store_true', help='write reference/refinement/element_rules.json')
    a = ap.parse_args(argv)
    spec = MolecularSpec(smiles='moses', split='dev', **COMMON_ORGANIC_GROUPS)
    cases, failed = B.generated_cases(a.n, DEV_SEED, spec)
    cache = Path(a.out) / 'rows.jsonl'
    done = {}
    for r in B.read_rows(cache).values(): done.setdefault(r['structure'], []).append(r)
    done = {s: [r for r in rs if r['candidate'] in CANDIDATES or r['candidate'] is None] for s, rs in done.items()}
    atomic_write_text(cache, ''.join(json.dumps(r) + '\n' for rs in done.values() for r in rs))
    todo = [(c, n) for c in cases if (n := to_run(done.get(c.name, [])))]     # each crystal runs the candidates it has no row of
    with open(cache, 'a') as fh, Pool(a.workers) as pool:
        for rows in pool.imap(run_crystal, todo):
            for r in rows: fh.write(json.dumps(dict(r, key=f"{r['structure']}|{r['candidate']}")) + '\n')
            fh.flush()
            done[rows[0]['structure']] = [r for r in done.get(rows[0]['structure'], []) if r['candidate'] is not None] + rows
            print(rows[0]['structure'], ' | '.join(f"{len(r['wrong'])} wrong" if 'wrong' in r else r.get('error', 'no solution') for r in rows), flush=True)
    rows = [r for c in cases for r in done[c.name]]
    out = dict(choose(rows, len(cases)), generation_failed=len(failed), command=shlex.join(['python', 'bench/element_rules.py'] + argv),
               split='dev', space_groups=list(spec.space_groups), seed=DEV_SEED, condition=CONDITION.name)
    print(f"\nn = {len(cases)} dev crystals ({out['no_solution']} without a solution; {out['n_compared']} refined by every candidate), "
          f"elements from 1.0 Å calculated data\n")
    print('| candidate | elements ≥ 90 % | 95 % CI | wrong atoms | missing atoms | confusions | R1 mean | CPU s mean |\n|---|---|---|---|---|---|---|---|')
    for c, v in out['table'].items():
        print(f"| {c} | {v['elements_90']}/{v['n']} | {v['ci95'][0]:.2f}–{v['ci95'][1]:.2f} | {v['wrong_atoms']}/{v['atoms']} | {v['missing_atoms']} | "
              f"{', '.join(f'{k} {n}' for k, n in v['confusions'].items()) or '–'} | {v['r1_mean']} | {v['cpu_mean']} |")
    for st in out['steps']: print(f"\nchosen among {len(st['candidates'])}: {st['chosen']} ({st['rule']})")
    for st in out['steps'][1:]:
        pr = st['paired_90']
        print(f"crystals >= 90 % right, {st['chosen']} against {st['base']}: +{pr['gained']}/-{pr['lost']} (exact p = {pr['p']})")
    text = json.dumps(out, indent=1, ensure_ascii=False)
    atomic_write_text(Path(a.out) / 'summary.json', text)
    if a.update_reference: atomic_write_text(REF, text)


if __name__ == '__main__':
    main()
