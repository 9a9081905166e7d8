"""keraslite.models: Model, Sequential, and loading/saving of whole models."""
from __future__ import annotations

from .engine.training import Model
from .engine.sequential import Sequential


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """save_model(model, filepath, overwrite=True, include_optimizer=True)."""
    from .saving import save_model as _save
    _save(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool | None = None,
               allow_nonfinite: bool = False):
    """load_model(filepath, custom_objects=None, compile=True, safe_mode=None,
    allow_nonfinite=False): a model saved by save() (see keraslite.saving.load_model)."""
    from .saving import load_model as _load
    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode,
                 allow_nonfinite=allow_nonfinite)


def model_from_json(json_string: str, custom_objects=None, safe_mode: bool | None = None):
    """model_from_json(json_string, custom_objects=None, safe_mode=None): a model from to_json()."""
    from .saving import model_from_json as _from_json
    return _from_json(json_string, custom_objects=custom_objects, safe_mode=safe_mode)


def model_from_yaml(yaml_string: str, custom_objects=None, safe_mode: bool | None = None):
    """model_from_yaml(yaml_string, custom_objects=None, safe_mode=None): a model from to_yaml()
    (needs PyYAML; read with yaml.safe_load, so YAML tags never build Python objects)."""
    try:
        import yaml
    except ImportError:
        raise ImportError("Requires yaml module installed (`pip install pyyaml`).") from None
    try:
        config = yaml.safe_load(yaml_string)
    except yaml.YAMLError as e:
        raise ValueError(f"model_from_yaml: the string is not valid YAML ({e})") from None
    return model_from_config(config, custom_objects=custom_objects, safe_mode=safe_mode)


def model_from_config(config: dict, custom_objects=None, safe_mode: bool | None = None):
    """model_from_config(config, custom_objects=None, safe_mode=None): a model from
    {'class_name', 'config'}."""
    from .saving import model_from_config as _from_config
    return _from_config(config, custom_objects=custom_objects, safe_mode=safe_mode)


__all__ = ["Model", "Sequential", "save_model", "load_model", "model_from_json", "model_from_yaml",
           "model_from_config"]
