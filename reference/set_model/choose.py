"""Model selection on the dev split only: every candidate run on all dev-split structures (1.2 -> 1.0 A); writes selection.json.

    python reference/set_model/choose.py runs/set_model_ref runs/set_model_v2 [--update-reference]
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json
from pathlib import Path
from xrdphase.core import atomic_write_text
from xrdphase.set_training import evaluate_sets, table

HERE = Path(__file__).resolve().parent

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('runs', nargs='+', help='run directories (each with model.pt, config.json, summary.json)')
    ap.add_argument('--update-reference', action='store_true')
    a = ap.parse_args()
    res = evaluate_sets({Path(r).name: str(Path(r) / 'model.pt') for r in a.runs}, ('mol_dev',))
    res['candidates'] = {Path(r).name: dict(config=json.loads((Path(r) / 'config.json').read_text()),
                                            summary=json.loads((Path(r) / 'summary.json').read_text())) for r in a.runs}
    m = res['sets']['mol_dev']['summary']['methods']
    res['chosen'] = min((k for k in m if k != 'wilson'), key=lambda k: m[k]['R_new'])
    out = HERE / 'selection.json' if a.update_reference else Path('runs/set_selection.json')
    atomic_write_text(out, json.dumps(res, indent=1))
    print(table(res)); print('chosen:', res['chosen'], '| written:', out)
