"""The iterators behind ImageDataGenerator.flow / flow_from_directory / flow_from_dataframe, for
keraslite.preprocessing.image, which exports them."""
from __future__ import annotations

import os
import threading
import warnings

import numpy as np

from ..backend import config as _config
from ..utils.data_utils import Sequence
from ._image_transforms import _check_format, _pil_image, array_to_img, img_to_array, load_img


# =============================================================================================
# iterators

class Iterator(Sequence):
    """Iterator(n, batch_size, shuffle, seed): base of the image iterators.

    A keraslite Sequence (indexable: `it[i]` is batch i, `len(it)` batches per epoch, reshuffled in
    `on_epoch_end`) and, like Keras', also an endless Python iterator (`next(it)`).
    Subclasses implement `_get_batches_of_transformed_samples(index_array)`.
    """

    white_list_formats = ('png', 'jpg', 'jpeg', 'bmp', 'ppm', 'tif', 'tiff')

    def __init__(self, n, batch_size, shuffle, seed):
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self.index_array = None
        self.index_generator = self._flow_index()

    def _save_batch(self, batch_x, index_array, hash_high) -> None:
        """Write each augmented image of the batch to save_to_dir as
        prefix_index_hash.format, the hash random below `hash_high` (Keras's file names)."""
        for i, j in enumerate(index_array):
            img = array_to_img(batch_x[i], self.data_format, scale=True)
            fname = '{prefix}_{index}_{hash}.{format}'.format(prefix=self.save_prefix, index=j,
                                                              hash=np.random.randint(hash_high),
                                                              format=self.save_format)
            img.save(os.path.join(self.save_to_dir, fname))

    def _set_index_array(self):
        self.index_array = np.arange(self.n)
        if self.shuffle:
            self.index_array = np.random.permutation(self.n)

    def __getitem__(self, idx):
        if idx >= len(self):
            raise ValueError('Asked to retrieve element {idx}, but the Sequence has length {length}'.format(
                idx=idx, length=len(self)))
        if self.seed is not None:
            np.random.seed(self.seed + self.total_batches_seen)
        self.total_batches_seen += 1
        if self.index_array is None:
            self._set_index_array()
        index_array = self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)]
        return self._get_batches_of_transformed_samples(index_array)

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size

    def on_epoch_end(self):
        self._set_index_array()

    def reset(self):
        self.batch_index = 0

    def _flow_index(self):
        self.reset()
        while True:
            if self.seed is not None:
                np.random.seed(self.seed + self.total_batches_seen)
            if self.batch_index == 0:
                self._set_index_array()
            current_index = (self.batch_index * self.batch_size) % self.n if self.n else 0
            if self.n > current_index + self.batch_size:
                self.batch_index += 1
            else:
                self.batch_index = 0
            self.total_batches_seen += 1
            yield self.index_array[current_index:current_index + self.batch_size]

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self):
        """The next batch (endless; wraps around epochs)."""
        with self.lock:
            index_array = next(self.index_generator)
        return self._get_batches_of_transformed_samples(index_array)

    def _get_batches_of_transformed_samples(self, index_array):
        raise NotImplementedError


class NumpyArrayIterator(Iterator):
    """NumpyArrayIterator(x, y, image_data_generator, batch_size=32, shuffle=False,
    sample_weight=None, seed=None, data_format=None, save_to_dir=None, save_prefix='',
    save_format='png', subset=None, dtype=None)

    Batches `(x, y[, sample_weight])` (or just `x` when `y` is None) from a rank-4 array, each
    image randomly transformed then standardized by `image_data_generator`. `x` may be a tuple
    `(images, other_array_or_list)`: the other arrays ride along untransformed.
    """

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False, sample_weight=None, seed=None,
                 data_format=None, save_to_dir=None, save_prefix='', save_format='png', subset=None, dtype=None):
        data_format = _check_format(data_format)
        self.dtype = _config.floatx() if dtype is None else dtype
        if isinstance(x, (tuple, list)):
            if not isinstance(x[1], list):
                x_misc = [np.asarray(x[1])]
            else:
                x_misc = [np.asarray(xx) for xx in x[1]]
            x = x[0]
            for xx in x_misc:
                if len(x) != len(xx):
                    raise ValueError('All of the arrays in `x` should have the same length. Found a pair with: '
                                     'len(x[0]) = %s, len(x[?]) = %s' % (len(x), len(xx)))
        else:
            x_misc = []
        if y is not None and len(x) != len(y):
            raise ValueError('`x` (images tensor) and `y` (labels) should have the same length. Found: '
                             'x.shape = %s, y.shape = %s' % (np.asarray(x).shape, np.asarray(y).shape))
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError('`x` (images tensor) and `sample_weight` should have the same length. Found: '
                             'x.shape = %s, sample_weight.shape = %s'
                             % (np.asarray(x).shape, np.asarray(sample_weight).shape))
        if subset is not None:
            if subset not in ('training', 'validation'):
                raise ValueError('Invalid subset name: %s; expected "training" or "validation".' % (subset,))
            split_idx = int(len(x) * image_data_generator._validation_split)
            if y is not None:
                y = np.asarray(y)
                if not np.array_equal(np.unique(y[:split_idx]), np.unique(y[split_idx:])):
                    raise ValueError('Training and validation subsets have different number of classes after '
                                     'the split. If your numpy arrays are sorted by the label, you might want '
                                     'to shuffle them.')
            part = slice(None, split_idx) if subset == 'validation' else slice(split_idx, None)
            x = np.asarray(x)[part]
            x_misc = [np.asarray(xx[part]) for xx in x_misc]
            if y is not None:
                y = y[part]
            if sample_weight is not None:
                sample_weight = np.asarray(sample_weight)[part]
        self.x = np.asarray(x, dtype=self.dtype)
        self.x_misc = x_misc
        if self.x.ndim != 4:
            raise ValueError('Input data in `NumpyArrayIterator` should have rank 4. You passed an array with '
                             'shape %s' % (self.x.shape,))
        channels_axis = 3 if data_format == 'channels_last' else 1
        if self.x.shape[channels_axis] not in (1, 3, 4):
            warnings.warn('NumpyArrayIterator is set to use the data format convention "%s" (channels on axis '
                          '%s), i.e. expected either 1, 3, or 4 channels on axis %s. However, it was passed an '
                          'array with shape %s (%s channels).' % (data_format, channels_axis, channels_axis,
                                                                  self.x.shape, self.x.shape[channels_axis]))
        self.y = np.asarray(y) if y is not None else None
        self.sample_weight = np.asarray(sample_weight) if sample_weight is not None else None
        self.image_data_generator = image_data_generator
        self.data_format = data_format
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        super().__init__(self.x.shape[0], batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array):
        batch_x = np.zeros((len(index_array),) + self.x.shape[1:], dtype=self.dtype)
        gen = self.image_data_generator
        for i, j in enumerate(index_array):
            x = self.x[j].copy()
            params = gen.get_random_transform(x.shape)
            x = gen.apply_transform(x.astype(self.dtype), params)
            x = gen.standardize(x)
            batch_x[i] = x
        if self.save_to_dir:
            self._save_batch(batch_x, index_array, 1e4)
        batch_x_miscs = [xx[index_array] for xx in self.x_misc]
        output = (batch_x if not batch_x_miscs else [batch_x] + batch_x_miscs,)
        if self.y is None:
            return output[0]
        output += (self.y[index_array],)
        if self.sample_weight is not None:
            output += (self.sample_weight[index_array],)
        return output


class _FilesIterator(Iterator):
    """Shared part of DirectoryIterator and DataFrameIterator: batches loaded from image files."""

    allowed_class_modes = {'categorical', 'binary', 'sparse', 'input', None}

    def _setup_images(self, image_data_generator, target_size, color_mode, data_format, save_to_dir, save_prefix,
                      save_format, interpolation, dtype):
        self.image_data_generator = image_data_generator
        self.target_size = tuple(target_size)
        if color_mode not in ('rgb', 'rgba', 'grayscale'):
            raise ValueError('Invalid color mode: %s; expected "rgb", "rgba", or "grayscale".' % (color_mode,))
        self.color_mode = color_mode
        self.data_format = _check_format(data_format)
        channels = {'rgba': 4, 'rgb': 3, 'grayscale': 1}[color_mode]
        if self.data_format == 'channels_last':
            self.image_shape = self.target_size + (channels,)
        else:
            self.image_shape = (channels,) + self.target_size
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        self.interpolation = interpolation
        self.dtype = _config.floatx() if dtype is None else dtype

    def _get_batches_of_transformed_samples(self, index_array):
        batch_x = np.zeros((len(index_array),) + self.image_shape, dtype=self.dtype)
        filepaths = self.filepaths
        for i, j in enumerate(index_array):
            img = load_img(filepaths[j], color_mode=self.color_mode, target_size=self.target_size,
                           interpolation=self.interpolation)
            x = img_to_array(img, data_format=self.data_format, dtype=self.dtype)
            if hasattr(img, 'close'):
                img.close()
            if self.image_data_generator:
                params = self.image_data_generator.get_random_transform(x.shape)
                x = self.image_data_generator.apply_transform(x, params)
                x = self.image_data_generator.standardize(x)
            batch_x[i] = x
        if self.save_to_dir:
            self._save_batch(batch_x, index_array, 1e7)
        mode = self.class_mode
        if mode == 'input':
            batch_y = batch_x.copy()
        elif mode == 'sparse':
            batch_y = self.classes[index_array]
        elif mode == 'binary':
            batch_y = self.classes[index_array].astype(self.dtype)
        elif mode == 'categorical':
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            for i, label in enumerate(self.classes[index_array]):
                batch_y[i, label] = 1.
        elif mode == 'raw':
            batch_y = self._raw_labels[index_array]
        else:
            return batch_x
        return batch_x, batch_y


def _split_range(validation_split, subset):
    if subset is None or not validation_split:
        return None
    if subset == 'validation':
        return (0, validation_split)
    if subset == 'training':
        return (validation_split, 1)
    raise ValueError('Invalid subset name: %s; expected "training" or "validation"' % (subset,))


class DirectoryIterator(_FilesIterator):
    """DirectoryIterator(directory, image_data_generator, target_size=(256, 256), color_mode='rgb',
    classes=None, class_mode='categorical', batch_size=32, shuffle=True, seed=None,
    data_format=None, save_to_dir=None, save_prefix='', save_format='png', follow_links=False,
    subset=None, interpolation='nearest', dtype=None)

    Images from `directory/<class name>/...` (one sub-folder per class, sorted; files with the
    white-listed extensions, sorted). Needs Pillow.
    """

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode='rgb', classes=None,
                 class_mode='categorical', batch_size=32, shuffle=True, seed=None, data_format=None,
                 save_to_dir=None, save_prefix='', save_format='png', follow_links=False, subset=None,
                 interpolation='nearest', dtype=None):
        _pil_image()
        self._setup_images(image_data_generator, target_size, color_mode, data_format, save_to_dir, save_prefix,
                           save_format, interpolation, dtype)
        if class_mode not in self.allowed_class_modes:
            raise ValueError('Invalid class_mode: %s; expected one of "categorical", "binary", "sparse", '
                             '"input" or None.' % (class_mode,))
        self.directory = directory
        self.classes_list = classes
        self.class_mode = class_mode
        split = _split_range(getattr(image_data_generator, '_validation_split', 0), subset)
        self.split = split
        self.subset = subset
        if not classes:
            classes = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))
        filenames, labels = [], []
        for name in classes:
            class_dir = os.path.join(directory, name)
            files = []
            for root, _, fnames in sorted(os.walk(class_dir, followlinks=follow_links), key=lambda t: t[0]):
                for fname in sorted(fnames):
                    if fname.lower().endswith(tuple('.' + e for e in self.white_list_formats)):
                        files.append(os.path.relpath(os.path.join(root, fname), directory))
            if split:
                n = len(files)
                files = files[int(split[0] * n):int(split[1] * n)]
            filenames.extend(files)
            labels.extend([self.class_indices[name]] * len(files))
        self.filenames = filenames
        self.classes = np.array(labels, dtype='int32')
        self.samples = len(filenames)
        self.filepaths = [os.path.join(directory, f) for f in filenames]
        print('Found %d images belonging to %d classes.' % (self.samples, self.num_classes))
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def labels(self):
        return self.classes


class DataFrameIterator(_FilesIterator):
    """DataFrameIterator(dataframe, directory=None, image_data_generator=None, x_col='filename',
    y_col='class', weight_col=None, target_size=(256, 256), color_mode='rgb', classes=None,
    class_mode='categorical', batch_size=32, shuffle=True, seed=None, data_format=None,
    save_to_dir=None, save_prefix='', save_format='png', subset=None, interpolation='nearest',
    dtype=None, validate_filenames=True)

    Images named by `dataframe[x_col]` (relative to `directory` unless absolute), labels from
    `dataframe[y_col]`. class_mode: 'categorical' | 'binary' | 'sparse' (class names, a list of
    names per row allowed for 'categorical'), 'raw' (the y_col values), 'input' or None.
    Works with a pandas DataFrame or a dict of columns. Needs Pillow.
    """

    allowed_class_modes = {'binary', 'categorical', 'input', 'raw', 'sparse', None}

    def __init__(self, dataframe, directory=None, image_data_generator=None, x_col='filename', y_col='class',
                 weight_col=None, target_size=(256, 256), color_mode='rgb', classes=None, class_mode='categorical',
                 batch_size=32, shuffle=True, seed=None, data_format=None, save_to_dir=None, save_prefix='',
                 save_format='png', subset=None, interpolation='nearest', dtype=None, validate_filenames=True):
        _pil_image()
        self._setup_images(image_data_generator, target_size, color_mode, data_format, save_to_dir, save_prefix,
                           save_format, interpolation, dtype)
        if class_mode not in self.allowed_class_modes:
            raise ValueError('Invalid class_mode: {}; expected one of: {}'.format(
                class_mode, self.allowed_class_modes))
        if weight_col is not None:
            raise NotImplementedError('keraslite DataFrameIterator: weight_col is not supported')
        self.class_mode = class_mode
        self.directory = directory or ''
        filenames = [str(f) for f in list(dataframe[x_col])]
        ys = list(dataframe[y_col]) if class_mode is not None and class_mode != 'input' else [None] * len(filenames)
        if validate_filenames:
            keep = [i for i, f in enumerate(filenames)
                    if f.lower().endswith(tuple('.' + e for e in self.white_list_formats))
                    and os.path.isfile(os.path.join(self.directory, f))]
            filenames = [filenames[i] for i in keep]
            ys = [ys[i] for i in keep]
        split = _split_range(getattr(image_data_generator, '_validation_split', 0), subset)
        if split:
            n = len(filenames)
            part = slice(int(split[0] * n), int(split[1] * n))
            filenames, ys = filenames[part], ys[part]
        self.filenames = filenames
        self.filepaths = [os.path.join(self.directory, f) for f in filenames]
        self.samples = len(filenames)
        if class_mode in ('categorical', 'binary', 'sparse'):
            if not classes:
                names = set()
                for v in ys:
                    names.update(v if isinstance(v, (list, tuple)) else [v])
                classes = sorted(names)
            self.class_indices = dict(zip(classes, range(len(classes))))
            if class_mode == 'categorical' and any(isinstance(v, (list, tuple)) for v in ys):
                self._multi = [[self.class_indices[c] for c in (v if isinstance(v, (list, tuple)) else [v])]
                               for v in ys]
                self.classes = np.array([m[0] if m else -1 for m in self._multi])
            else:
                self._multi = None
                self.classes = np.array([self.class_indices[v] for v in ys], dtype='int32')
            self.num_classes = len(classes)
            print('Found %d validated image filenames belonging to %d classes.' % (self.samples, self.num_classes))
        else:
            self._multi = None
            self.class_indices = {}
            self.classes = None
            self._raw_labels = np.asarray(ys) if class_mode == 'raw' else None
            print('Found %d validated image filenames.' % self.samples)
        super().__init__(self.samples, batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array):
        out = super()._get_batches_of_transformed_samples(index_array)
        if self._multi is not None:
            batch_x = out[0]
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            for i, j in enumerate(index_array):
                batch_y[i, self._multi[j]] = 1.
            return batch_x, batch_y
        return out

    @property
    def labels(self):
        return self.classes
