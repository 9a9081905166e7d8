"""keraslite.utils (`keras.utils`): label encoding, the progress bar, Sequence and its enqueuers,
file downloads (`get_file`), HDF5Matrix, multi_gpu_model, custom objects, model diagrams."""
from . import conv_utils, data_utils, generic_utils, io_utils, layer_utils, multi_gpu_utils, np_utils, vis_utils
from .data_utils import GeneratorEnqueuer, OrderedEnqueuer, Sequence, SequenceEnqueuer, get_file, validate_file
from .generic_utils import (CustomObjectScope, Progbar, custom_object_scope, deserialize_keras_object,
                            get_custom_objects, serialize_keras_object)
from .io_utils import HDF5Matrix
from .layer_utils import convert_all_kernels_in_model, get_source_inputs, print_summary
from .multi_gpu_utils import multi_gpu_model
from .np_utils import normalize, to_categorical
from .vis_utils import model_to_dot, plot_model

__all__ = ["to_categorical", "normalize", "Progbar", "Sequence", "get_file", "validate_file", "CustomObjectScope",
           "custom_object_scope", "get_custom_objects", "serialize_keras_object", "deserialize_keras_object",
           "plot_model", "model_to_dot", "print_summary", "get_source_inputs", "np_utils", "generic_utils",
           "layer_utils", "data_utils", "vis_utils", "HDF5Matrix", "multi_gpu_model", "convert_all_kernels_in_model",
           "OrderedEnqueuer", "GeneratorEnqueuer", "SequenceEnqueuer", "io_utils", "multi_gpu_utils", "conv_utils"]
