"""keraslite.utils (`keras.utils`): label encoding, the progress bar, Sequence, file downloads
(`get_file`), custom objects, model diagrams."""
from . import data_utils, generic_utils, layer_utils, np_utils, vis_utils
from .data_utils import Sequence, get_file, validate_file
from .generic_utils import (CustomObjectScope, Progbar, custom_object_scope, deserialize_keras_object,
                            get_custom_objects, serialize_keras_object)
from .layer_utils import get_source_inputs, print_summary
from .np_utils import normalize, to_categorical
from .vis_utils import model_to_dot, plot_model

__all__ = ["to_categorical", "normalize", "Progbar", "Sequence", "get_file", "validate_file", "CustomObjectScope",
           "custom_object_scope", "get_custom_objects", "serialize_keras_object", "deserialize_keras_object", "plot_model", "model_to_dot",
           "print_summary", "get_source_inputs", "np_utils", "generic_utils", "layer_utils", "data_utils", "vis_utils"]
