"Tests of xrdphase.models: shapes, masks as inputs, spectral branches, transformer tokens and padding, post-processing, weights."
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import json
import numpy as np
import pytest
import torch
from xrdphase.crystal import random_structure, StructureSpec
from xrdphase.diffraction import reflections
from xrdphase.grid import task_sample, GRIDS
from xrdphase.models import (UNet3D, FFT_UNet, XRD_Transformer, SpectralPointwise, build_model, model_config, postprocess, predict,
                             tokenize, input_channels, save_weights, load_model, read_weights, load_state, ModelError, threads_ok,
                             ARCHS, SIZES)


def batch_of(task, seeds, spec='thesis'):
    ss = [task_sample(reflections(random_structure(spec, s), 0.8, e_method=None), task) for s in seeds]
    return {k: torch.stack([torch.as_tensor(s[k]) for s in ss]) for k in ss[0]}


@pytest.fixture(scope='module')
def b2(): return batch_of('d2', (1, 2, 3))


@pytest.fixture(scope='module')
def b1(): return batch_of('d1', (4,), StructureSpec(space_groups=('C2',)))


def nparams(m): return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize('arch', sorted(ARCHS))
def test_every_arch_shapes_and_known_mask_matters(arch, b1, b2):
    torch.manual_seed(0)
    for task, b in (('d1', b1), ('d2', b2)):
        m = build_model(model_config(arch, 'tiny', task)).eval()
        with torch.no_grad(): y = m(b)
        assert y.shape == b['input'].shape and torch.isfinite(y).all()
    # the same values with a different known mask give a different output: the mask is an input, not only the zeros
    b = dict(b2); b['known'] = b['known'].clone(); b['known'][:, :, :, :3] = False
    with torch.no_grad(): assert not torch.allclose(m(b2), m(b))


def test_thesis_sizes():
    assert 5.5e6 < nparams(UNet3D('d1', features=('input', 'known'))) < 5.9e6          # thesis: ~5.7 M
    assert 0.95e6 < nparams(XRD_Transformer('d1')) < 1.05e6                            # thesis: ~1.0 M
    t = XRD_Transformer('d1')
    assert len(t.blocks) == 5 and t.blocks[0].attn.h == 4 and t.norm.normalized_shape == (128,) and t.blocks[0].mlp[0].out_features == 512
    assert [e.embedding_dim for e in t.hkl] == [44, 42, 42] and [e.num_embeddings for e in t.hkl] == [26, 18, 23]


def test_input_channels(b2):
    x = input_channels(b2, ('input', 'known', 'new', 'absent', 's'), d_high=1.0)
    assert x.shape == (3, 5, 23, 16, 21)
    assert torch.equal(x[:, 2].bool(), b2['new']) and torch.equal(x[:, 3].bool(), b2['absent'])
    with pytest.raises(ModelError): UNet3D('d2', features=('input',))
    with pytest.raises(ModelError): UNet3D('d2', features=('input', 'known', 'phase'))


def test_spectral_branches():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 9, 7, 6)
    sa = SpectralPointwise(3, 4, 'abs')
    assert torch.allclose(sa(x), sa(torch.roll(x, (2, 5, 1), (-3, -2, -1))), atol=1e-5)          # |FFT|: blind to shifts
    sc = SpectralPointwise(3, 4, 'complex')
    assert not torch.allclose(sc(x), sc(torch.roll(x, (2, 5, 1), (-3, -2, -1))), atol=1e-3)     # phase kept: not blind
    with pytest.raises(ModelError): SpectralPointwise(3, 4, 'phase')
    with pytest.raises(ModelError): FFT_UNet('d2', spectral=None)


def test_tokens_padding_and_attention(b2):
    idx, keep, sel = tokenize(b2)
    assert torch.equal(keep.sum(1), (~b2['outside']).reshape(3, -1).sum(1)) and keep.sum(1).max() < GRIDS['d2'].size
    idx_r, keep_r, _ = tokenize(b2, 'reflections')
    assert torch.equal(keep_r.sum(1), (b2['known'] | b2['new']).reshape(3, -1).sum(1))
    torch.manual_seed(1)
    m = XRD_Transformer('d2', d_model=24, n_heads=2, n_blocks=2).eval()
    with torch.no_grad():
        y = m(b2); i = int(keep.sum(1).argmin())
        alone = m({k: v[i:i + 1] for k, v in b2.items()})
        y2, info = m(b2, return_attn=True)
    assert torch.allclose(y[i], alone[0], atol=1e-5) and torch.allclose(y, y2, atol=1e-5)
    w = info['attn'][1]
    assert w.shape == (3, 2, keep.shape[1], keep.shape[1]) and (w[i][..., ~keep[i]] == 0).all()
    assert torch.allclose(w.sum(-1)[:, 0][keep], torch.ones(int(keep.sum())), atol=1e-5)


def test_postprocess(b2):
    torch.manual_seed(2)
    raw = torch.randn(b2['input'].shape)
    p = postprocess(raw, b2)
    assert torch.equal(p[b2['known']], b2['input'][b2['known']])
    assert (p[b2['absent'] | b2['outside']] == 0).all() and (p >= 0).all()
    assert torch.equal(p[b2['new']], raw[b2['new']].clamp_min(0))
    assert torch.equal(postprocess(raw, b2, clip=False)[b2['new']], raw[b2['new']])
    with pytest.raises(ModelError): postprocess(raw[:, :5], b2)
    m = build_model(model_config('unet', 'tiny', 'd2'))
    out = predict(m, b2)
    assert m.training and (out[b2['outside']] == 0).all()                                     # predict restores train mode


def test_weights_roundtrip_and_mismatch(tmp_path):
    torch.manual_seed(3)
    m = build_model(model_config('transformer', 'tiny', 'd2'))
    p = save_weights(m, tmp_path / 'w.pt', meta=dict(a=1))
    d = torch.load(p, weights_only=True)                                                       # plain data only
    assert json.loads(d['config_json']) == m.config and read_weights(p)['meta'] == dict(a=1)
    m2 = load_model(p)
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values()))
    with pytest.raises(ModelError, match='another shape'): load_state(build_model(model_config('transformer', 'tiny', 'd1')), d['state_dict'], 'w')
    with pytest.raises(ModelError, match='missing'): load_state(build_model(model_config('unet', 'tiny', 'd2')), d['state_dict'], 'w')
    (tmp_path / 'junk.pt').write_bytes(b'not a file')
    with pytest.raises(ModelError, match='junk.pt'): load_model(tmp_path / 'junk.pt')
    with pytest.raises(ModelError): build_model(dict(arch='resnet', task='d2'))
    with pytest.raises(ModelError): model_config('unet', 'huge')


def test_threads_are_safe():
    assert threads_ok()                                                 # whatever the thread setting, matmul is correct


def test_wilson_feature_and_residual(b2):
    from xrdphase.models import wilson_fill
    feats = ('input', 'known', 'new', 's', 'wilson')
    x = input_channels(b2, feats, d_high=1.0)
    assert torch.allclose(x[:, 4], wilson_fill(b2))
    with pytest.raises(ModelError, match='wilson'): UNet3D('d2', residual=True)
    for arch in ARCHS:
        m = build_model(model_config(arch, 'tiny', 'd2', features=feats, residual=True)).eval()
        assert build_model(json.loads(json.dumps(m.config))).residual
        with torch.no_grad():
            m.head.weight.zero_(); m.head.bias.zero_()
            y = m(b2)
        assert torch.allclose(y[~b2['outside']], wilson_fill(b2)[~b2['outside']], atol=1e-6)


def test_box_and_absence_tokens(b2):
    "tokens='box' gives every voxel a token and outside voxels a type of their own; absences are never in the 'new' loss."
    from xrdphase.training import loss_fn
    idx, keep, _ = tokenize(b2, 'box')
    assert keep.sum(1).tolist() == [GRIDS['d2'].size] * 3
    with pytest.raises(ModelError, match='tokens'): XRD_Transformer('d2', tokens='voxels')
    torch.manual_seed(4)
    m = XRD_Transformer('d2', d_model=24, n_heads=2, n_blocks=1, tokens='box', features=('input', 'known', 'new', 'absent')).eval()
    assert m.types.num_embeddings == 5 and XRD_Transformer('d2', d_model=24, n_heads=2, n_blocks=1).types.num_embeddings == 4
    with torch.no_grad(): y, moved = m(b2), m(dict(b2, outside=b2['outside'].roll(1, dims=-1)))
    assert not torch.allclose(y, moved)
    s = XRD_Transformer('d2', d_model=24, n_heads=2, n_blocks=1, tokens='sphere', features=('input', 'known', 'new', 'absent'))
    pred = s(b2)
    g, = torch.autograd.grad(loss_fn(pred, b2, 'new'), pred)
    assert (g[b2['absent']] == 0).all() and (g[b2['new']] != 0).any()
