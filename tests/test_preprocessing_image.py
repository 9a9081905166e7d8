"""keraslite.preprocessing.image: array/image conversions, affine transforms and
ImageDataGenerator (Keras 2 / keras_preprocessing 1.1 semantics), checked against NumPy-computed
expectations, and fit_generator fed by it.
"""
import numpy as np
import pytest

from keraslite.preprocessing import image
from keraslite.preprocessing.image import ImageDataGenerator
from keraslite.utils import Sequence

try:
    import PIL  # noqa: F401
    HAVE_PIL = True
except ImportError:
    HAVE_PIL = False


# ============================================================================ image: transforms
def _img(h=5, w=6, c=2, seed=0):
    return np.random.default_rng(seed).random((h, w, c)).astype('float32')


def _ramp(h, w):
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing='ij')
    return np.stack([r + 10. * c, 2. * r - c], axis=-1).astype('float64')


def test_flips_and_identity():
    x = _img()
    g = ImageDataGenerator()
    np.testing.assert_array_equal(g.apply_transform(x, {}), x)
    np.testing.assert_array_equal(g.apply_transform(x, {'flip_horizontal': True}), x[:, ::-1])
    np.testing.assert_array_equal(g.apply_transform(x, {'flip_vertical': True}), x[::-1])
    gf = ImageDataGenerator(data_format='channels_first')
    xf = x.transpose(2, 0, 1)
    np.testing.assert_array_equal(gf.apply_transform(xf, {'flip_horizontal': True}), xf[:, :, ::-1])


@pytest.mark.parametrize('fill_mode', ['nearest', 'constant', 'reflect', 'wrap'])
@pytest.mark.parametrize('order', [0, 1])
def test_integer_shift_fill_modes(fill_mode, order):
    h, w = 5, 6
    x = _img(h, w)
    g = ImageDataGenerator(fill_mode=fill_mode, cval=-7., interpolation_order=order)
    tx, ty = 2, -3  # output pixel (i, j) samples input (i + 2, j - 3)
    rows, cols = np.arange(h) + tx, np.arange(w) + ty

    def index(i, n):
        if fill_mode == 'nearest':
            return np.clip(i, 0, n - 1)
        if fill_mode == 'wrap':
            return i % n
        if fill_mode == 'reflect':  # d c b a | a b c d | d c b a
            i = i % (2 * n)
            return np.where(i >= n, 2 * n - 1 - i, i)
        return np.clip(i, 0, n - 1)

    want = x[index(rows, h)][:, index(cols, w)]
    if fill_mode == 'constant':
        outside = ((rows < 0) | (rows >= h))[:, None] | ((cols < 0) | (cols >= w))[None, :]
        want = np.where(outside[..., None], -7., want)
    got = g.apply_transform(x, {'tx': tx, 'ty': ty})
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # channels_first gives the same pixels
    gf = ImageDataGenerator(fill_mode=fill_mode, cval=-7., interpolation_order=order, data_format='channels_first')
    np.testing.assert_allclose(gf.apply_transform(x.transpose(2, 0, 1), {'tx': tx, 'ty': ty}),
                               want.transpose(2, 0, 1), rtol=1e-6, atol=1e-6)


def _expected_affine_on_ramp(h, w, m):
    """A separable-linear ramp sampled with 'nearest' fill under bilinear interpolation equals
    the ramp evaluated at the clipped source coordinates."""
    o_r, o_c = h / 2 + 0.5, w / 2 + 0.5
    rr, cc = np.meshgrid(np.arange(h, dtype=float), np.arange(w, dtype=float), indexing='ij')
    pr, pc = rr - o_r, cc - o_c
    sr = m[0, 0] * pr + m[0, 1] * pc + m[0, 2] + o_r
    sc = m[1, 0] * pr + m[1, 1] * pc + m[1, 2] + o_c
    sr, sc = np.clip(sr, 0, h - 1), np.clip(sc, 0, w - 1)
    return np.stack([sr + 10. * sc, 2. * sr - sc], axis=-1)


@pytest.mark.parametrize('params', [{'theta': 90}, {'theta': 33}, {'zx': 0.5, 'zy': 1.7}, {'shear': 20},
                                    {'theta': -15, 'tx': 1.5, 'ty': -0.5, 'shear': 5, 'zx': 1.2, 'zy': 0.9}])
def test_affine_on_linear_ramp(params):
    h, w = 7, 9
    x = _ramp(h, w)
    t = np.deg2rad(params.get('theta', 0))
    s = np.deg2rad(params.get('shear', 0))
    m = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    m = m @ np.array([[1, 0, params.get('tx', 0)], [0, 1, params.get('ty', 0)], [0, 0, 1]])
    m = m @ np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
    m = m @ np.diag([params.get('zx', 1), params.get('zy', 1), 1])
    got = image.apply_affine_transform(x, fill_mode='nearest', **params)
    np.testing.assert_allclose(got, _expected_affine_on_ramp(h, w, m), atol=1e-9)
    g = ImageDataGenerator(fill_mode='nearest', dtype='float64')
    np.testing.assert_allclose(g.apply_transform(x, params), got)


@pytest.mark.parametrize('fill_mode', ['nearest', 'reflect', 'constant', 'wrap'])
@pytest.mark.parametrize('order', [0, 1])
def test_affine_matches_scipy_ndimage(fill_mode, order):
    """Cross-check against scipy.ndimage.affine_transform (what Keras calls), when SciPy happens
    to be installed; our 'wrap' is periodic tiling, i.e. SciPy's 'grid-wrap'."""
    ndimage = pytest.importorskip('scipy.ndimage')
    x = np.random.default_rng(4).random((9, 11, 2))
    params = dict(theta=27, tx=1.2, ty=-2., shear=8, zx=1.3, zy=0.8)
    got = image.apply_affine_transform(x, fill_mode=fill_mode, cval=0.3, order=order, **params)
    t, s = np.deg2rad(27), np.deg2rad(8)
    m = (np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
         @ np.array([[1, 0, 1.2], [0, 1, -2.], [0, 0, 1]])
         @ np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]]) @ np.diag([1.3, 0.8, 1]))
    m = image.transform_matrix_offset_center(m, 9, 11)
    mode = 'grid-wrap' if fill_mode == 'wrap' else fill_mode
    want = np.stack([ndimage.affine_transform(x[..., c], m[:2, :2], m[:2, 2], order=order, mode=mode, cval=0.3)
                     for c in range(2)], axis=-1)
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_rotation_180_wrap_and_constant():
    h, w = 4, 5
    x = _img(h, w, 3)
    # Keras rotates about (h/2 + 0.5, w/2 + 0.5): source = (h + 1 - i, w + 1 - j)
    got = image.apply_affine_transform(x, theta=180, fill_mode='wrap')
    want = x[(h + 1 - np.arange(h)) % h][:, (w + 1 - np.arange(w)) % w]
    np.testing.assert_allclose(got, want, atol=1e-5)
    got = image.apply_affine_transform(x, theta=180, fill_mode='constant', cval=0.25, order=0)
    ri, ci = h + 1 - np.arange(h), w + 1 - np.arange(w)
    inside = ((ri >= 0) & (ri < h))[:, None] & ((ci >= 0) & (ci < w))[None, :]
    want = np.where(inside[..., None], x[np.clip(ri, 0, h - 1)][:, np.clip(ci, 0, w - 1)], 0.25)
    np.testing.assert_allclose(got, want, atol=1e-6)
    with pytest.raises(ValueError):
        image.apply_affine_transform(x, theta=10, fill_mode='mirror')


def test_channel_shift_and_brightness():
    x = _img(4, 4, 3) * 100
    g = ImageDataGenerator()
    got = g.apply_transform(x, {'channel_shift_intensity': 30.})
    np.testing.assert_allclose(got, np.clip(x + 30., x.min(), x.max()), rtol=1e-6)
    got = g.apply_transform(x, {'brightness': 0.5})
    scaled = np.floor(x.astype('float64') / x.max() * 255)
    np.testing.assert_allclose(got, np.clip(np.round(scaled * 0.5), 0, 255))
    got = image.apply_brightness_shift(x, 2.0)
    assert got.max() == 255 and got.min() >= 0


def test_random_transform_draws():
    g = ImageDataGenerator(rotation_range=20, width_shift_range=3, height_shift_range=[-2, 5], shear_range=4,
                           zoom_range=(0.8, 1.1), channel_shift_range=10, horizontal_flip=True,
                           brightness_range=(0.5, 1.5))
    shape = (8, 10, 3)
    ps = [g.get_random_transform(shape) for _ in range(200)]
    assert all(-20 <= p['theta'] <= 20 for p in ps)
    assert {p['ty'] for p in ps} <= {-2., -1., 0., 1., 2.}
    assert {p['tx'] for p in ps} <= {-5., -2., 2., 5.}
    assert all(0.8 <= p['zx'] <= 1.1 and 0.8 <= p['zy'] <= 1.1 for p in ps)
    assert {p['flip_horizontal'] for p in ps} == {True, False} and not any(p['flip_vertical'] for p in ps)
    assert all(0.5 <= p['brightness'] <= 1.5 and abs(p['channel_shift_intensity']) <= 10 for p in ps)
    assert g.get_random_transform(shape, seed=5) == g.get_random_transform(shape, seed=5)
    frac = ImageDataGenerator(width_shift_range=0.25, height_shift_range=0.5)
    ps = [frac.get_random_transform(shape) for _ in range(100)]
    assert all(abs(p['ty']) <= 2.5 and abs(p['tx']) <= 4 for p in ps)
    assert ImageDataGenerator(zoom_range=0.3).zoom_range == [0.7, 1.3]
    x = _img(8, 10, 3)
    np.testing.assert_array_equal(g.random_transform(x, seed=3), g.random_transform(x, seed=3))
    assert g.random_transform(x).shape == x.shape


def test_generator_argument_errors():
    with pytest.raises(ValueError):
        ImageDataGenerator(zoom_range=(1, 2, 3))
    with pytest.raises(ValueError):
        ImageDataGenerator(validation_split=1.5)
    with pytest.raises(ValueError):
        ImageDataGenerator(data_format='channels_middle')
    with pytest.raises(ValueError):
        ImageDataGenerator(brightness_range=0.5)
    with pytest.warns(UserWarning):
        g = ImageDataGenerator(featurewise_std_normalization=True)
    assert g.featurewise_center
    with pytest.warns(UserWarning):
        g = ImageDataGenerator(zca_whitening=True, featurewise_std_normalization=True)
    assert g.featurewise_center and not g.featurewise_std_normalization


# ============================================================================ image: standardize / fit
def test_standardize_rescale_and_samplewise():
    x = _img(4, 4, 3) * 255
    g = ImageDataGenerator(rescale=1 / 255., samplewise_center=True, samplewise_std_normalization=True,
                           preprocessing_function=lambda a: a + 1)
    got = g.standardize(x.copy())
    want = (x + 1) / 255.
    want = (want - want.mean()) / (want.std() + 1e-6)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_fit_featurewise_and_zca():
    rng = np.random.default_rng(0)
    x = (rng.random((40, 3, 2, 3)) * np.array([1., 5., 10.])).astype('float32')
    g = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rescale=0.5)
    g.fit(x)
    xs = x * 0.5
    np.testing.assert_allclose(g.mean.ravel(), xs.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(g.std.ravel(), xs.std(axis=(0, 1, 2)), rtol=1e-4)
    assert g.mean.shape == (1, 1, 3)
    out = np.stack([g.standardize(xi.copy()) for xi in x])
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-3)

    gf = ImageDataGenerator(featurewise_center=True, data_format='channels_first')
    gf.fit(x.transpose(0, 3, 1, 2))
    assert gf.mean.shape == (3, 1, 1)
    np.testing.assert_allclose(gf.mean.ravel(), x.mean(axis=(0, 1, 2)), rtol=1e-5)

    with pytest.warns(UserWarning):
        gz = ImageDataGenerator(zca_whitening=True, zca_epsilon=1e-9, dtype='float64')
    xz = rng.normal(size=(200, 2, 2, 1)) @ np.ones((1, 1)) + rng.normal(size=(200, 1, 1, 1))
    gz.fit(xz)
    white = np.stack([gz.standardize(xi.copy()) for xi in xz]).reshape(200, -1)
    np.testing.assert_allclose(white.T @ white / 200, np.eye(4), atol=1e-5)
    with pytest.raises(ValueError):
        g.fit(x[0])


def test_fit_augment_rounds():
    x = np.random.default_rng(1).random((5, 4, 4, 1)).astype('float32')
    g = ImageDataGenerator(featurewise_center=True, horizontal_flip=True)
    g.fit(x, augment=True, rounds=3, seed=2)
    np.testing.assert_allclose(g.mean.ravel(), [x.mean()], rtol=1e-5)  # flips keep the mean


# ============================================================================ image: flow
def test_flow_batches_and_epoch():
    x = np.random.default_rng(2).random((10, 4, 4, 3)).astype('float32')
    y = np.arange(10)
    sw = np.linspace(0, 1, 10)
    it = ImageDataGenerator().flow(x, y, batch_size=4, shuffle=True, sample_weight=sw, seed=0)
    assert isinstance(it, image.NumpyArrayIterator) and isinstance(it, Sequence)
    assert len(it) == 3
    seen = []
    for i in range(len(it)):
        bx, by, bw = it[i]
        np.testing.assert_array_equal(bx, x[by])
        np.testing.assert_allclose(bw, sw[by])
        seen.extend(by.tolist())
    assert sorted(seen) == list(range(10)) and len(it[2][1]) == 2
    it.on_epoch_end()
    bx, by, _ = next(it)
    assert bx.shape == (4, 4, 4, 3)
    with pytest.raises(ValueError):
        it[3]

    plain = ImageDataGenerator(rescale=2.).flow(x, batch_size=10, shuffle=False)
    np.testing.assert_allclose(plain[0], x * 2)
    misc = ImageDataGenerator().flow((x, y * 3), y, batch_size=5, shuffle=False)
    (bx, bm), by = misc[1]
    np.testing.assert_array_equal(bm, y[5:] * 3)

    a = ImageDataGenerator(rotation_range=40).flow(x, y, batch_size=5, seed=11)
    b = ImageDataGenerator(rotation_range=40).flow(x, y, batch_size=5, seed=11)
    np.testing.assert_array_equal(a[0][0], b[0][0])


def test_flow_subset_and_errors():
    x = np.zeros((10, 2, 2, 1))
    y = np.array([0, 1] * 5)
    g = ImageDataGenerator(validation_split=0.2)
    val = g.flow(x, y, subset='validation', batch_size=100, shuffle=False)
    tr = g.flow(x, y, subset='training', batch_size=100, shuffle=False)
    assert val.n == 2 and tr.n == 8
    np.testing.assert_array_equal(val[0][1], y[:2])
    with pytest.raises(ValueError):
        g.flow(x, np.sort(y), subset='validation')
    with pytest.raises(ValueError):
        g.flow(x, y, subset='test')
    with pytest.raises(ValueError):
        g.flow(x, y[:3])
    with pytest.raises(ValueError):
        g.flow(x[0], y[:2])
    with pytest.raises(ValueError):
        g.flow(x, y, sample_weight=np.ones(3))


def test_img_to_array_without_pil():
    a = np.arange(6).reshape(2, 3)
    assert image.img_to_array(a).shape == (2, 3, 1)
    assert image.img_to_array(a, data_format='channels_first').shape == (1, 2, 3)
    b = np.zeros((2, 3, 4))
    assert image.img_to_array(b, data_format='channels_first').shape == (4, 2, 3)
    assert image.img_to_array(b).dtype == np.float32
    with pytest.raises(ValueError):
        image.img_to_array(np.zeros(3))
    with pytest.raises(ValueError):
        image.array_to_img(np.zeros((2, 2)))


@pytest.mark.skipif(HAVE_PIL, reason="Pillow is installed")
def test_file_functions_need_pillow(tmp_path):
    with pytest.raises(ImportError, match='Pillow'):
        image.load_img(str(tmp_path / 'a.png'))
    with pytest.raises(ImportError, match='Pillow'):
        image.array_to_img(np.zeros((2, 2, 3)))
    with pytest.raises(ImportError, match='Pillow'):
        image.save_img(str(tmp_path / 'a.png'), np.zeros((2, 2, 3)))
    with pytest.raises(ImportError, match='Pillow'):
        ImageDataGenerator().flow_from_directory(str(tmp_path))
    with pytest.raises(ImportError, match='Pillow'):
        ImageDataGenerator().flow_from_dataframe({'filename': [], 'class': []})


@pytest.mark.skipif(not HAVE_PIL, reason="needs Pillow")
def test_directory_and_files_with_pillow(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ('cats', 'dogs'):
        (tmp_path / cls).mkdir()
        for i in range(3):
            image.save_img(str(tmp_path / cls / ('%d.png' % i)), rng.random((6, 5, 3)) * 255, scale=False)
    img = image.load_img(str(tmp_path / 'cats' / '0.png'), target_size=(4, 4))
    assert image.img_to_array(img).shape == (4, 4, 3)
    it = ImageDataGenerator(rescale=1 / 255.).flow_from_directory(str(tmp_path), target_size=(6, 5), batch_size=4,
                                                                 shuffle=False)
    assert it.class_indices == {'cats': 0, 'dogs': 1} and it.samples == 6 and len(it) == 2
    bx, by = it[0]
    assert bx.shape == (4, 6, 5, 3) and by.shape == (4, 2) and bx.max() <= 1
    df = {'filename': ['cats/0.png', 'dogs/1.png'], 'class': ['c', 'd']}
    it = ImageDataGenerator().flow_from_dataframe(df, str(tmp_path), target_size=(6, 5), class_mode='sparse',
                                                  shuffle=False)
    assert it[0][1].tolist() == [0, 1]


@pytest.mark.skipif(not HAVE_PIL, reason="needs Pillow")
def test_save_to_dir_writes_each_batch_image(tmp_path):
    """Array and file iterators write every image of a batch as prefix_index_hash.format (Keras's
    names), rescaled to 0-255: a constant image reads back as one constant value."""
    x = np.stack([np.full((5, 4, 3), v, dtype='float32') for v in (0.25, 0.5, 0.75)])
    out = tmp_path / 'arrays'
    out.mkdir()
    it = ImageDataGenerator().flow(x, batch_size=2, shuffle=False, save_to_dir=str(out), save_prefix='aug',
                                   save_format='png')
    it[1]
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 1 and names[0].startswith('aug_2_') and names[0].endswith('.png')
    assert 0 <= int(names[0].split('_')[2].split('.')[0]) < 1e4
    back = image.img_to_array(image.load_img(str(out / names[0])))
    assert back.shape == (5, 4, 3) and len(np.unique(back)) == 1
    src = tmp_path / 'src' / 'c'
    src.mkdir(parents=True)
    image.save_img(str(src / 'a.png'), np.full((6, 5, 3), 200.0), scale=False)
    out = tmp_path / 'files'
    out.mkdir()
    it = ImageDataGenerator().flow_from_directory(str(tmp_path / 'src'), target_size=(6, 5), batch_size=1,
                                                  save_to_dir=str(out), save_prefix='f', save_format='jpeg')
    it[0]
    names = [p.name for p in out.iterdir()]
    assert len(names) == 1 and names[0].startswith('f_0_') and names[0].endswith('.jpeg')
    assert 0 <= int(names[0].split('_')[2].split('.')[0]) < 1e7


# ============================================================================ end to end
def test_fit_generator_with_image_data_generator(kbackend):
    """End to end, on every usable backend."""
    from keraslite import layers, models
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(16, 6, 6, 1)).astype('float32')
    y = np.eye(2, dtype='float32')[rng.integers(0, 2, size=16)]
    model = models.Sequential([layers.Conv2D(2, (3, 3), activation='relu', input_shape=(6, 6, 1)),
                               layers.Flatten(), layers.Dense(2, activation='softmax')])
    model.compile('sgd', 'categorical_crossentropy')
    it = ImageDataGenerator(horizontal_flip=True, rescale=1 / 255.).flow(x, y, batch_size=8)
    hist = model.fit_generator(it, steps_per_epoch=len(it), epochs=1, verbose=0)
    assert len(hist.history['loss']) == 1 and np.isfinite(hist.history['loss'][0])
