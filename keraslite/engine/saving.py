"""keras.engine.saving (Keras 2.3's home of the model-file functions): the names of
keraslite.saving and keraslite.models, for scripts that import them from here."""
from ..models import load_model, model_from_config, model_from_json, model_from_yaml, save_model
from ..saving import (load_weights_from_hdf5_group, load_weights_from_hdf5_group_by_name,
                      save_weights_to_hdf5_group)

__all__ = ["save_model", "load_model", "model_from_config", "model_from_json", "model_from_yaml",
           "save_weights_to_hdf5_group", "load_weights_from_hdf5_group", "load_weights_from_hdf5_group_by_name"]
