"Tests of xrdphase.interpretation: the randomisation sanity check, GradCAM and sensitivity against known answers, attention counting, the claims table."
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import json, math
import numpy as np
import pytest
import torch
from xrdphase import interpretation as I
from xrdphase.models import build_model, model_config, input_channels
from xrdphase.core import reference_dir


@pytest.fixture(scope='module')
def thpp(): return I.thpp_batch('d2')


@pytest.mark.parametrize('arch', ['unet', 'fft_unet'])
def test_maps_pass_the_model_randomisation_check(arch, thpp):
    "Adebayo et al. (2018): GradCAM and sensitivity of the committed models must change when the weights are re-initialised."
    m = I.reference_model('d2', arch)                       # a missing weights file fails here, loudly
    g = I.sanity_check(I.gradcam, m, thpp)
    s = I.sanity_check(I.sensitivity, m, thpp, mask=thpp['new'][0].numpy())
    assert g['passed'] and s['passed'], (g, s)


def test_the_sanity_check_can_fail(thpp):
    "A 'map' that never looks at the weights keeps its ranking with random weights, and must fail."
    r = I.sanity_check(lambda m, b: b['input'].numpy() + b['known'].numpy(), I.reference_model('d2', 'unet'), thpp)
    assert not r['passed'] and min(r['rho']) > 0.99


def test_randomised_changes_every_layer_and_not_the_original():
    torch.manual_seed(0)
    m = build_model(model_config('unet', 'tiny', 'd2'))
    with torch.no_grad():                                   # stand-in for training: move every weight and statistic
        for v in m.state_dict().values():
            if v.is_floating_point(): v.add_(0.5)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    r = I.randomised(m, seed=3)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert all(not torch.equal(before[k], v) for k, v in r.state_dict().items() if v.is_floating_point())


def test_gradcam_equals_its_definition(thpp):
    torch.manual_seed(1)
    m = build_model(model_config('fft_unet', 'tiny', 'd2')).eval()
    keep = {}
    hook = m.down[0].register_forward_hook(lambda mod, inp, out: keep.update(a=out))
    y = I._new_sum(m, thpp['new'].float())(input_channels(thpp, m.features, m.d_high)).sum()
    hook.remove()
    g, = torch.autograd.grad(y, keep['a'])
    by_hand = torch.relu((g.mean((2, 3, 4), keepdim=True) * keep['a']).sum(1)).detach().numpy()
    assert np.allclose(I.gradcam(m, thpp), by_hand, rtol=1e-4, atol=1e-6 * by_hand.max())


def test_sensitivity_of_a_mean_is_sqrt_2_over_pi_k(thpp):
    toy = dict(thpp, input=thpp['known'].float())
    k = int(thpp['known'].sum())
    f = lambda b: (b['input'] * b['known']).sum((1, 2, 3), keepdim=True) / k * b['new'].float()
    gain = I.mean_gain(I.sensitivity(f, toy, n=400, seed=2), toy)[0]
    assert abs(gain / math.sqrt(2 / (math.pi * k)) - 1) < 0.06


def test_regions_partition_the_box_and_contain_the_masks(thpp):
    rg = I.regions(thpp)
    total = sum(v.astype(int) for v in rg.values())
    assert (total == 1).all()
    assert not (thpp['known'][0].numpy() & ~rg['known sphere']).any() and not (thpp['new'][0].numpy() & ~rg['new shell']).any()
    with pytest.raises(ValueError, match='negative'): I.region_shares(-np.ones(thpp['d'][0].shape), thpp)


def test_attention_counting_and_stats(thpp):
    ab = np.zeros(100, bool)
    ab[:5] = True
    a = np.where(ab[:, None] | ab[None, :], 5.0, 1.0) * np.random.default_rng(0).uniform(0.9, 1.0, (100, 100))
    va, vr, chance = I._strongest(a, ab, 0.02)
    assert len(vr) == 0 and len(va) > 0 and abs(chance - (1 - 0.95 ** 2)) < 1e-12
    torch.manual_seed(0)
    m = build_model(model_config('transformer', 'tiny', 'd2', tokens='sphere', features=['input', 'known', 'new', 'absent', 's']))
    st = I.attention_stats(m, thpp)
    assert len(st) == 1 and st[0]['absences'] == int(thpp['absent'].sum()) and st[0]['tokens'] == int((~thpp['outside']).sum())
    assert 0 < st[0]['entropy'] <= 1 and 0 <= st[0]['enrichment']


def test_bootstrap_ci():
    c = I.bootstrap_ci(np.arange(20.0))
    assert c['n'] == 20 and c['lo'] < 9.5 < c['hi'] and c['mean'] == 9.5


def test_committed_interpretation_matches_the_reference_runs():
    R = json.loads((reference_dir() / 'interpretation.json').read_text())
    M = json.loads((reference_dir() / 'metrics.json').read_text())
    assert R['summary']['n'] == len(R['per_structure']) == M['results']['d2']['cod']['wilson']['n']
    assert all(v['passed'] for v in R['sanity_thpp'].values())


def test_claims_table_reads_the_files_and_names_what_is_missing(tmp_path):
    rows = I.claims()
    assert len(rows) == 14 and {r['verdict'] for r in rows} <= {'agrees', 'contradicts', 'not resolved'}
    assert all(isinstance(r['n'], int) and r['n'] > 0 for r in rows)
    B = json.loads((reference_dir() / 'phasing_benchmark.json').read_text())
    even = dict(n=100, solved=50, rate=0.5, ci=[0.4, 0.6])
    B['table']['real'] = {k: dict(v, **even, **{b: dict(n=100, gained=30, lost=0, p=1e-9) for b in v if b.startswith('vs ')})
                          for k, v in B['table']['real'].items()}
    (tmp_path / 'b.json').write_text(json.dumps(B))
    r = I.phasing_claims(tmp_path / 'b.json')
    assert r[0]['n'] == 100 and '50/100' in r[0]['measured']
    assert r[1]['verdict'] == r[2]['verdict'] == r[3]['verdict'] == 'agrees'        # +30/−0 at p 1e-9, ×k for the best of k
    B['table']['real'] = {'solved with X': dict(B['table']['real']['true 1.0 Å'])}
    (tmp_path / 'c.json').write_text(json.dumps(B))
    with pytest.raises(KeyError, match='solved with X'): I.phasing_claims(tmp_path / 'c.json')
    B['version'] = 0
    (tmp_path / 'd.json').write_text(json.dumps(B))
    with pytest.raises(ValueError, match='version 0'): I.phasing_claims(tmp_path / 'd.json')


def test_readme_numbers_are_the_committed_ones():
    """README.md (nbs/index.ipynb's output) must show the headline table readme_table() computes from reference/ now; refresh with
    xrdphase docs --commit-outputs --only index, then the README nbconvert."""
    readme = (reference_dir().parent / 'README.md').read_text()
    assert I.readme_table() in readme
