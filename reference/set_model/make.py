"""Reproduce the set-model reference files (issue 11): stores, the reference run, the ablation runs, the evaluation.

    python reference/set_model/make.py [--stage data|train|ablations|evaluate|all] [--update-reference]

Every stage resumes: stores are made chunk by chunk, training continues from its last checkpoint, so rerunning the
command after an interruption finishes the job with the same result. Run from the repository root, one thread:
`OMP_NUM_THREADS=1 nice -n 10 python reference/set_model/make.py --stage all`. Writes under runs/ and data/ (git-ignored);
reference/set_model/ is written only with --update-reference.
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, json, shutil
from pathlib import Path
from xrdphase.core import atomic_write_text
from xrdphase.set_model import set_model_config
from xrdphase.set_training import SetTrainConfig, train, make_store, evaluate_sets, table

HERE = Path(__file__).resolve().parent
ROOT = 'data/setmodel'
N_TRAIN = int(json.loads((HERE / 'config.json').read_text())['max_train']) if (HERE / 'config.json').exists() else None

# Small runs that compare ideas on the dev split (first structures of the training store, 3 epochs, 100 dev structures).
ABLATIONS = {
    'small_molecular': dict(data=[f'{ROOT}/mol_train'], max_train=400, model=set_model_config(block='isab')),
    'small_random_atoms': dict(data=[f'{ROOT}/rand_train'], max_train=400, model=set_model_config(block='isab')),
    'small_no_learned_patterson': dict(data=[f'{ROOT}/mol_train'], max_train=400, model=set_model_config(block='isab', ablate=('patterson_layer',))),
}

def ablation_config(name):
    return SetTrainConfig.from_dict(dict(ABLATIONS[name], val_data=f'{ROOT}/mol_dev', max_val=100, epochs=3, batch_size=4, warmup=50,
                                         ckpt_every=50, log_every=50, out=f'runs/set_ablations/{name}', progress=False))

def stage_data():
    for name, n in (('mol_dev', None), ('mol_test', None), ('mol_train', N_TRAIN), ('rand_train', 400)):
        print(name, make_store(name, ROOT, n, progress=False)['n_structures'], flush=True)

def stage_train():
    cfg = SetTrainConfig.from_dict(json.loads((HERE / 'config.json').read_text()))
    print(json.dumps(train(cfg, resume=True)), flush=True)

def stage_ablations():
    for name in ABLATIONS: print(name, json.dumps(train(ablation_config(name), resume=True)), flush=True)

def stage_evaluate(update):
    cfg = json.loads((HERE / 'config.json').read_text())
    weights = {'set_model': Path(cfg['out']) / 'model.pt', **{k: Path(f'runs/set_ablations/{k}/model.pt') for k in ABLATIONS}}
    res = evaluate_sets({k: str(v) for k, v in weights.items()}, ('mol_test', 'cod'), ROOT)
    out = HERE if update else Path('runs/set_reference'); out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / 'metrics.json', json.dumps(res, indent=1))
    if update:
        shutil.copyfile(weights['set_model'], out / 'model.pt')
        for k in ('log.jsonl', 'summary.json'): shutil.copyfile(Path(cfg['out']) / k, out / k)
        for k in ABLATIONS:
            shutil.copyfile(weights[k], out / f'{k}.pt')
            shutil.copyfile(Path(f'runs/set_ablations/{k}/log.jsonl'), out / f'{k}.log.jsonl')
    print(table(res)); print('written under', out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--stage', default='all', choices=('data', 'train', 'ablations', 'evaluate', 'all'))
    ap.add_argument('--update-reference', action='store_true')
    a = ap.parse_args()
    if a.stage in ('data', 'all'): stage_data()
    if a.stage in ('ablations', 'all'): stage_ablations()
    if a.stage in ('train', 'all'): stage_train()
    if a.stage in ('evaluate', 'all'): stage_evaluate(a.update_reference)
