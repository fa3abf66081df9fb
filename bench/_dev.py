"""What the dev-split choices (bench/origin_cc.py, bench/auto_runs.py) share: their command line, their dev crystals solved, their summary written.

The dev crystals: MOSES molecules of the 'dev' split (the 'test' split is the benchmark's, the 'train' split the models'),
packed in the common organic groups with equal weights, from a seed of the calling bench (never the benchmark's).
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json
from dataclasses import replace
from pathlib import Path
from xrdphase import benchmark as B
from xrdphase.core import atomic_write_text
from xrdphase.molecular import MolecularSpec, COMMON_ORGANIC_GROUPS

ROOT = Path(__file__).resolve().parent.parent


def dev_args(doc:str, name:str, argv:list) -> argparse.Namespace:
    "--n, --workers, --out (default runs/NAME) and --update-reference (reference/NAME.json) of a dev-choice bench."
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument('--n', type=int, default=120, help='dev crystals (default 120)')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--out', default=str(ROOT / 'runs' / name))
    ap.add_argument('--update-reference', action='store_true', help=f'write reference/{name}.json')
    return ap.parse_args(argv)


def dev_rows(a:argparse.Namespace, seed:int, group:str, conds:list) -> tuple:
    "(rows with their families, cases, draws the generator refused, spec): --n dev crystals solved under every condition, cached under --out."
    spec = MolecularSpec(smiles='moses', split='dev', space_groups=COMMON_ORGANIC_GROUPS['space_groups'], space_group_weights=None)
    cases, failed = B.generated_cases(a.n, seed, spec)
    cases = [replace(c, group=group) for c in cases]
    rows = B.run_benchmark(cases, conds, Path(a.out) / 'cases.jsonl', workers=a.workers, max_runs=8)
    return B.add_families(rows, cases), cases, failed, spec


def dev_write(a:argparse.Namespace, name:str, out:dict):
    "The summary as runs/…/summary.json under --out and, with --update-reference, as reference/NAME.json (atomic writes)."
    text = json.dumps(out, indent=1, ensure_ascii=False)
    atomic_write_text(Path(a.out) / 'summary.json', text)
    if a.update_reference: atomic_write_text(ROOT / 'reference' / f'{name}.json', text)
