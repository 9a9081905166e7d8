"""keras.utils.multi_gpu_model: data parallelism by splitting each batch into one slice per GPU.

The returned model feeds slice i of every batch to a replica of the template (the same layers,
so the same weights) and concatenates the replicas' outputs along the batch axis: it computes
exactly what the template computes, and training it trains the template. GPUs exist for the
`cuda` backend only; with fewer devices than asked, the error is Keras 2's.

Placement: keraslite compiles each training step into one plan that runs on the cuda backend's
current device, so the replicas' slices are computed one after another on that device; the
model is Keras-2 compatible (same outputs, names, training) but does not yet spread the work
over several GPUs.
"""
from __future__ import annotations

from .. import backend as K


def _available_devices() -> list[str]:
    """Keras 2's device names: '/cpu:0', then '/gpu:i' for each CUDA device of the cuda backend."""
    devices = ["/cpu:0"]
    if K.backend() == "cuda":
        try:
            import cupy
            count = int(cupy.cuda.runtime.getDeviceCount())
        except Exception:  # noqa: BLE001 - no driver: no GPU to offer
            count = 0
        devices += [f"/gpu:{i}" for i in range(count)]
    return devices


def get_slice(data, i: int, parts: int):
    """Rows of part `i` of `parts` of a batch: equal parts, the last one taking the remainder."""
    batch_size = K.shape(data)[0]
    step = batch_size // parts
    stop = batch_size if i == parts - 1 else step * (i + 1)
    return K.gather(data, K.arange(step * i, stop))


def multi_gpu_model(model, gpus=None, cpu_merge: bool = True, cpu_relocation: bool = False):
    """multi_gpu_model(model, gpus=None, cpu_merge=True, cpu_relocation=False): a model that
    splits each batch into `gpus` slices (an int >= 2, or a list of at least two GPU ids), runs
    `model` on each slice and concatenates the results. `gpus=None` uses every visible GPU.
    `cpu_merge` and `cpu_relocation` are accepted for Keras 2 compatibility (the merge and the
    template weights stay where the backend keeps them)."""
    from ..engine.training import Model
    from ..layers import Lambda, concatenate
    available = _available_devices()
    if not gpus:
        # all visible GPUs when not specified (e.g. CUDA_VISIBLE_DEVICES=0,2)
        gpus = len([d for d in available if "gpu" in d])
    if isinstance(gpus, (list, tuple)):
        if len(gpus) <= 1:
            raise ValueError("For multi-gpu usage to be effective, call `multi_gpu_model` with `len(gpus) >= 2`. "
                             f"Received: `gpus={gpus}`")
        num_gpus = len(gpus)
        target_gpu_ids = list(gpus)
    else:
        if gpus <= 1:
            raise ValueError("For multi-gpu usage to be effective, call `multi_gpu_model` with `gpus >= 2`. "
                             f"Received: `gpus={gpus}`")
        num_gpus = int(gpus)
        target_gpu_ids = list(range(num_gpus))
    target_devices = ["/cpu:0"] + [f"/gpu:{i}" for i in target_gpu_ids]
    for device in target_devices:
        if device not in available:
            hint = "" if K.backend() == "cuda" else (
                f" (GPUs are used by keraslite's cuda backend; the active backend is '{K.backend()}': "
                "keraslite.set_backend('cuda'))")
            raise ValueError(f"To call `multi_gpu_model` with `gpus={gpus}`, we expect the following devices to be "
                             f"available: {target_devices}. However this machine only has: {available}. Try "
                             f"reducing `gpus`.{hint}")
    if not getattr(model, "inputs", None):
        raise ValueError("multi_gpu_model: the template model must be built (give the first layer an input_shape, "
                         "or call build()/fit() first)")

    all_outputs: list[list] = [[] for _ in model.outputs]
    for i, _ in enumerate(target_gpu_ids):
        inputs = []
        for x in model.inputs:
            input_shape = tuple(K.int_shape(x))[1:]
            inputs.append(Lambda(get_slice, output_shape=input_shape, arguments={"i": i, "parts": num_gpus})(x))
        outputs = model(inputs[0] if len(inputs) == 1 else inputs)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        for j, o in enumerate(outputs):
            all_outputs[j].append(o)

    # deduplicate output names (a Siamese template has the same layer at several outputs)
    output_names = []
    for name in model.output_names:
        base, k = name, 1
        while name in output_names:
            name = f"{base}_{k}"
            k += 1
        output_names.append(name)
    merged = [concatenate(outputs, axis=0, name=name) for name, outputs in zip(output_names, all_outputs)]
    return Model(model.inputs, merged)
