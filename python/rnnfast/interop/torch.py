"""``to_torch`` / ``from_torch``: the same model as a ``torch.nn`` module, with identical weights.

torch is imported only inside these functions (it is a test/benchmark reference for rnnfast,
never a dependency); the module classes they build are in :mod:`rnnfast.interop._torch_modules`.
"""

from __future__ import annotations

import numpy as np

from rnnfast import nn
from rnnfast.interop._checks import refuse_reduced_precision

_RECURRENT_CLASSES = {nn.LSTM: "LSTM", nn.GRU: "GRU", nn.RNN: "RNN"}


def to_torch(obj):
    """Build the ``torch.nn`` module that computes what ``obj`` computes, with its weights.

    Parameters
    ----------
    obj : rnnfast module or fitted estimator
        An ``nn.RNN``, ``LSTM``, ``GRU``, ``Linear``, ``SequenceNetwork``,
        ``SequenceAutoencoder`` or ``EncoderDecoder``, or a fitted ``RNNClassifier``,
        ``SequenceTagger``, ``SequenceTranscriber``, ``RNNRegressor`` or ``RNNForecaster``.

    Returns
    -------
    torch.nn.Module
        - a recurrent stack becomes ``torch.nn.RNN/LSTM/GRU(batch_first=True)`` in the same dtype;
          an LSTM or GRU frozen with ``precision="int8"`` becomes torch's dynamic-quantized
          module (``torch.ao.quantization.quantize_dynamic``), the same scheme except that
          torch scales the activations per step for the whole batch (outputs agree to about
          2e-2 relative); ``"bfloat16"`` copies and int8 vanilla RNNs raise ValueError;
        - ``Linear`` becomes ``torch.nn.Linear``;
        - ``SequenceNetwork`` becomes ``TorchSequenceNetwork`` and ``SequenceAutoencoder``
          ``TorchSequenceAutoencoder``; both are called ``module(x, lengths=None)``;
        - ``EncoderDecoder`` becomes ``TorchEncoderDecoder``, called ``module(source,
          source_lengths, target_in, target_lengths)`` for the teacher-forced logits;
        - an estimator becomes ``TorchPredictor``: ``module(x, lengths=None)`` returns the class
          probabilities (classifier, tagger), the per-step posteriors (transcriber, one row
          per stacked step) or the predicted values (regressor, forecaster) that
          ``predict_proba`` / ``predict_posteriors`` / ``predict`` return for a padded batch
          ``x`` ``(batch, time, features)``.

        Modules are returned in training mode, as torch constructs them; call ``.eval()`` to
        disable dropout. Dropout masks are drawn by torch, so only evaluation-mode outputs
        match rnnfast's.
    """
    torch = _import_torch()
    from rnnfast.interop import _torch_modules as tm

    if isinstance(obj, nn.RecurrentStack):
        return _torch_recurrent(torch, obj)
    if isinstance(obj, nn.Linear):
        linear = torch.nn.Linear(obj.in_features, obj.out_features, dtype=_torch_dtype(torch, obj))
        _load(torch, linear, obj.params)
        return linear
    if isinstance(obj, nn.SequenceNetwork):
        embedding = None if obj.embedding is None else _torch_embedding(torch, obj.embedding)
        query = None
        if obj.pooling == "attention":
            query = torch.nn.Parameter(_tensor(torch, obj.pool.params["query"]))
        return tm.TorchSequenceNetwork(
            _torch_recurrent(torch, obj.recurrent),
            to_torch(obj.head),
            obj.dropout,
            obj.per_step,
            embedding=embedding,
            pooling=obj.pooling,
            pool_query=query,
        )
    if isinstance(obj, nn.EncoderDecoder):
        parts = {
            "source_embedding": _torch_embedding(torch, obj.source_embedding),
            "encoder": _torch_recurrent(torch, obj.encoder),
            "bridge": to_torch(obj.bridge),
            "target_embedding": _torch_embedding(torch, obj.target_embedding),
            "decoder": _torch_recurrent(torch, obj.decoder),
            "combine": to_torch(obj.combine),
            "head": to_torch(obj.head),
        }
        attention = {
            name: torch.nn.Parameter(_tensor(torch, value))
            for name, value in obj.attention.params.items()
        }
        return tm.TorchEncoderDecoder(parts, obj.attention.kind, attention)
    if isinstance(obj, nn.SequenceAutoencoder):
        return tm.TorchSequenceAutoencoder(
            _torch_recurrent(torch, obj.encoder), to_torch(obj.decoder)
        )
    plan_of = getattr(obj, "_inference_plan", None)
    if plan_of is None:
        raise TypeError(
            f"obj must be an rnnfast nn module or a fitted estimator, got {type(obj).__name__}"
        )
    plan = plan_of()
    return tm.TorchPredictor(
        to_torch(plan.network),
        kind=plan.kind,
        input_mean=_tensor(torch, plan.input_mean),
        input_scale=_tensor(torch, plan.input_scale),
        per_sequence=plan.per_sequence,
        sequence_level=plan.sequence_level,
        output_mean=_tensor(torch, plan.output_mean),
        output_scale=_tensor(torch, plan.output_scale),
        value_shape=plan.value_shape,
        frame_stride=plan.frame_stride,
        frame_size=plan.frame_size,
        vocabulary_size=plan.vocabulary_size,
    )


def from_torch(module):
    """Build the rnnfast module equivalent to a ``torch.nn`` module, with identical weights.

    Parameters
    ----------
    module : torch.nn.Module
        A ``torch.nn.RNN``, ``LSTM`` or ``GRU`` (``batch_first=True``, no ``proj_size``), a
        ``torch.nn.Linear``, or a ``TorchSequenceNetwork`` / ``TorchSequenceAutoencoder`` made
        by :func:`to_torch`.

    Returns
    -------
    rnnfast.nn module
        In the torch module's dtype (float32 or float64).
    """
    torch = _import_torch()
    from rnnfast.interop import _torch_modules as tm

    if isinstance(module, tm.TorchSequenceNetwork):
        recurrent, head, embedding = module.recurrent, module.head, module.embedding
        network = nn.SequenceNetwork(
            _cell_name(recurrent),
            recurrent.input_size,
            recurrent.hidden_size,
            head.out_features,
            num_layers=recurrent.num_layers,
            bidirectional=recurrent.bidirectional,
            dropout=module.dropout.p,
            per_step=module.per_step,
            dtype=_numpy_dtype(torch, head.weight),
            num_embeddings=None if embedding is None else embedding.num_embeddings,
            pooling=module.pooling,
        )
        _copy_into(network.recurrent, _state(recurrent))
        _copy_into(network.head, _state(head))
        if embedding is not None:
            _copy_into(network.embedding, _state(embedding))
        if module.pool_query is not None:
            _copy_into(network.pool, {"query": module.pool_query.detach().cpu().numpy()})
        return network
    if isinstance(module, tm.TorchSequenceAutoencoder):
        encoder = module.encoder
        autoencoder = nn.SequenceAutoencoder(
            _cell_name(encoder),
            encoder.input_size,
            encoder.hidden_size,
            num_layers=encoder.num_layers,
            bidirectional=encoder.bidirectional,
            dropout=module.decoder.dropout.p,
            dtype=_numpy_dtype(torch, module.decoder.head.weight),
        )
        # copy into the arrays the autoencoder already shares with its params dict
        _copy_into(autoencoder.encoder, _state(encoder))
        _copy_into(autoencoder.decoder.recurrent, _state(module.decoder.recurrent))
        _copy_into(autoencoder.decoder.head, _state(module.decoder.head))
        return autoencoder
    if isinstance(module, torch.nn.Linear):
        linear = nn.Linear(
            module.in_features, module.out_features, _numpy_dtype(torch, module.weight)
        )
        _copy_into(linear, _state(module))
        return linear
    if isinstance(module, torch.nn.RNNBase):
        return _rnnfast_recurrent(torch, module)
    raise TypeError(
        "module must be a torch.nn.RNN, LSTM, GRU or Linear, or a module made by "
        f"rnnfast.interop.to_torch, got {type(module).__name__}"
    )


# ------------------------------------------------------------------------------- helpers
def _import_torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in the test extra
        raise ImportError("to_torch/from_torch need PyTorch: pip install torch") from exc
    return torch


def _torch_dtype(torch, obj):
    return torch.float64 if np.dtype(obj.dtype) == np.float64 else torch.float32


def _numpy_dtype(torch, tensor):
    if tensor.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"the module's dtype must be float32 or float64, got {tensor.dtype}")
    return np.float64 if tensor.dtype == torch.float64 else np.float32


def _tensor(torch, array):
    return None if array is None else torch.from_numpy(np.array(array))


def _torch_embedding(torch, embedding: nn.Embedding):
    module = torch.nn.Embedding(
        embedding.num_embeddings,
        embedding.embedding_dim,
        padding_idx=embedding.padding_idx,
        dtype=_torch_dtype(torch, embedding),
    )
    _load(torch, module, embedding.params)
    return module


def _torch_recurrent(torch, stack: nn.RecurrentStack):
    # torch's dynamic quantization (quantize_dynamic) is the same scheme as freeze("int8")
    # for LSTM and GRU; it has no vanilla RNN, and nothing like bf16 weights with float math
    dynamic_int8 = isinstance(stack, (nn.LSTM, nn.GRU))
    refuse_reduced_precision(stack, "to_torch", supported=("int8",) if dynamic_int8 else ())
    kwargs = dict(
        num_layers=stack.num_layers,
        bidirectional=stack.bidirectional,
        batch_first=True,
        dropout=stack.dropout,
        dtype=_torch_dtype(torch, stack),
    )
    if isinstance(stack, nn.RNN):
        kwargs["nonlinearity"] = stack.nonlinearity
    module = getattr(torch.nn, _RECURRENT_CLASSES[type(stack)])(
        stack.input_size, stack.hidden_size, **kwargs
    )
    _load(torch, module, stack.params)
    if stack.precision == "int8":
        return _quantized_dynamic(torch, module)
    return module


def _quantized_dynamic(torch, module):
    """``module`` (an LSTM or GRU) through torch's dynamic int8 quantization."""
    import warnings

    # quantize_dynamic swaps a model's submodules, never the model itself, hence the container
    with warnings.catch_warnings():  # torch.ao.quantization's deprecation notices
        warnings.simplefilter("ignore")
        container = torch.ao.quantization.quantize_dynamic(
            torch.nn.Sequential(module), {type(module)}, dtype=torch.qint8
        )
    return container[0]


def _load(torch, module, params: dict) -> None:
    module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in params.items()})


def _state(module) -> dict:
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def _copy_into(rnnfast_module, state: dict) -> None:
    for name, value in state.items():
        if name not in rnnfast_module.params:
            raise ValueError(f"unexpected parameter {name!r} in the torch module")
        rnnfast_module.params[name][...] = value


def _cell_name(module) -> str:
    kind = type(module).__name__
    if kind == "RNN":
        return "rnn_relu" if module.nonlinearity == "relu" else "rnn"
    return kind.lower()


def _rnnfast_recurrent(torch, module) -> nn.RecurrentStack:
    kind = type(module).__name__
    if kind not in ("RNN", "LSTM", "GRU"):
        raise TypeError(f"module must be a torch.nn.RNN, LSTM or GRU, got {kind}")
    if not module.batch_first:
        raise ValueError("module must be built with batch_first=True (rnnfast is batch-first)")
    if not module.bias:
        raise ValueError("module must have biases (bias=True)")
    if getattr(module, "proj_size", 0):
        raise ValueError("LSTM projections (proj_size > 0) have no rnnfast equivalent")
    kwargs = dict(
        num_layers=module.num_layers,
        bidirectional=module.bidirectional,
        dtype=_numpy_dtype(torch, module.weight_ih_l0),
        dropout=module.dropout,
    )
    if kind == "RNN":
        stack = nn.RNN(
            module.input_size, module.hidden_size, nonlinearity=module.nonlinearity, **kwargs
        )
    else:
        stack = getattr(nn, kind)(module.input_size, module.hidden_size, **kwargs)
    stack.load_state_dict(_state(module))
    return stack
