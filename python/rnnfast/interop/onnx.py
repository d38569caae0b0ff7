"""Export to ONNX: standard ``LSTM`` / ``GRU`` / ``RNN`` operators that any ONNX runtime runs.

The graph takes a padded batch ``input`` ``(batch, time, features)`` and, unless exported with
``lengths=False``, ``lengths`` ``(batch,)`` (int64, each in ``1..time``), which feeds the
operators' ``sequence_lens``: outputs past a sequence's length are zero and final states are
taken at its last valid step, as in rnnfast.

Conventions bridged here:

- gate order: rnnfast/torch LSTM ``i, f, g, o`` becomes ONNX ``i, o, f, c``; GRU ``r, z, n``
  becomes ``z, r, h``, with ``linear_before_reset=1`` (the reset gate applied after the
  recurrent product, as in rnnfast);
- layout: ONNX's default time-major ``layout=0`` (onnxruntime's CPU provider rejects the
  batch-first ``layout=1``), so the graph transposes in and out;
- stacked layers are one operator each; a bidirectional layer's two directions are one
  ``direction="bidirectional"`` operator whose ``(time, 2, batch, hidden)`` output is
  reshaped to rnnfast's ``(time, batch, 2 * hidden)``.

A reduced-precision module (``freeze(precision=...)``) is written with the weights it
multiplies: bfloat16 tensors ``Cast`` to float32; for an int8 LSTM, onnxruntime's
``com.microsoft.DynamicQuantizeLSTM``; for an int8 GRU or RNN, int8 tensors through
``DequantizeLinear`` into the float operator (ONNX has no integer recurrent operator).

``onnx`` (and ``onnxruntime`` to run the result) come with ``pip install rnnfast[onnx]``.
"""

from __future__ import annotations

import os

import numpy as np

from rnnfast import nn
from rnnfast.backends import cpu
from rnnfast.data.sequences import LEVEL_SCALE_FLOOR

__all__ = ["DEFAULT_OPSET", "export"]

DEFAULT_OPSET = 17

# rows of rnnfast's stacked gate blocks, in ONNX's order
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}


def export(obj, path, *, lengths: bool = True, dtype=np.float32, opset: int = DEFAULT_OPSET):
    """Write ``obj`` as an ONNX model.

    Parameters
    ----------
    obj : rnnfast module or fitted estimator
        An ``nn.RNN``, ``LSTM``, ``GRU``, ``SequenceNetwork`` or ``SequenceAutoencoder``, or a
        fitted ``RNNClassifier``, ``SequenceTagger``, ``SequenceTranscriber``,
        ``RNNRegressor`` or ``RNNForecaster``.
    path : str, os.PathLike or binary file object
        Where to write the model.
    lengths : bool, default True
        Give the graph a ``lengths`` input for padded batches of different lengths; without it
        every sequence is taken to fill the time axis.
    dtype : numpy.float32 or numpy.float64, default float32
        Precision of the graph. onnxruntime runs its recurrent operators in float32 only, so a
        float64 module is exported as float32 unless ``dtype=np.float64`` is asked for (valid
        ONNX, for runtimes that implement double-precision ``LSTM``/``GRU``/``RNN``).
    opset : int, default 17
        ONNX opset version of the graph (14 or newer).

    Returns
    -------
    onnx.ModelProto
        The model written (already checked with ``onnx.checker.check_model``).

    Notes
    -----
    The graph's outputs, by what is exported:

    - recurrent stack: ``output`` ``(batch, time, D*H)``, ``h_n`` ``(L*D, batch, H)`` and for an
      LSTM ``c_n``, as ``forward`` returns them;
    - ``SequenceNetwork`` / ``SequenceAutoencoder``: ``output``, as ``forward`` returns it;
    - classifier / tagger: ``probabilities`` (``predict_proba``) and ``label`` (``predict``);
    - transcriber: ``probabilities`` (``predict_posteriors``, one row per stacked step) and
      ``label`` (each step's most probable column: 0 is the blank, ``k + 1`` is
      ``classes_[k]``); decoding stays in rnnfast;
    - regressor / forecaster: ``predictions`` (float64, shaped as ``predict`` returns them).

    A reduced-precision module or estimator (``freeze(precision=...)``, float32 graphs only)
    keeps its reduced weights in the file: bfloat16 ones ``Cast`` to float32 (outputs as
    rnnfast's up to float32 sum order); int8 ones as onnxruntime's ``DynamicQuantizeLSTM``
    for an LSTM (activations quantized per step and batch by onnxruntime: outputs within the
    int8 error of rnnfast's) and through ``DequantizeLinear`` into the float ``GRU``/``RNN``
    operators otherwise.

    Estimators that standardise their inputs (forecaster) do so inside the graph. Feed the
    padded 3-D array: a univariate ``(batch, time)`` input needs a trailing axis of 1. A
    network with token input (``embedding_dim``) takes ``(batch, time)`` int64 ids instead,
    looked up with ``Gather``; an estimator's graph reads ids it never saw in ``fit`` as the
    out-of-vocabulary id 1, as ``predict`` does.
    """
    onnx = _import_onnx()
    if type(opset) is not int or opset < 14:
        raise ValueError(f"opset must be an integer >= 14, got {opset!r}")
    if not isinstance(lengths, (bool, np.bool_)):
        raise TypeError(f"lengths must be a bool, got {lengths!r}")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}")
    network, plan = _network_and_plan(obj)
    graph = _Graph(onnx, np.dtype(dtype).type, opset)
    if getattr(network, "embedding", None) is not None:  # token ids
        x = graph.input("input", ["batch", "time"], onnx.TensorProto.INT64)
    else:
        n_features = network.input_size if plan is None else plan.n_features
        x = graph.input("input", ["batch", "time", n_features], graph.float_type)
    seq_lens = None
    if lengths:
        given = graph.input("lengths", ["batch"], onnx.TensorProto.INT64)
        seq_lens = graph.node("Cast", [given], to=onnx.TensorProto.INT32)

    if isinstance(obj, nn.RecurrentStack):
        output, h_n, c_n = _recurrent(graph, obj, _time_major(graph, x), seq_lens)
        graph.output(graph.node("Transpose", [output], perm=[1, 0, 2]), "output")
        graph.output(h_n, "h_n")
        if c_n is not None:
            graph.output(c_n, "c_n")
    elif isinstance(obj, (nn.SequenceNetwork, nn.SequenceAutoencoder)):
        graph.output(_network(graph, obj, x, seq_lens), "output")
    else:
        _predictor(graph, plan, x, seq_lens)
    model = graph.model(opset, producer=f"rnnfast {_version()}")
    onnx.checker.check_model(model, full_check=True)
    if hasattr(path, "write"):
        path.write(model.SerializeToString())
    else:
        with open(os.fspath(path), "wb") as f:
            f.write(model.SerializeToString())
    return model


# ------------------------------------------------------------------------ graph pieces
def _predictor(graph, plan, x, seq_lens) -> None:
    """An estimator's ``predict`` path (see ``rnnfast.estimators._plan``)."""
    onnx = graph.onnx
    if plan.vocabulary_size is not None:  # ids never seen in fit read as the OOV id 1
        known = graph.node("Less", [x, graph.constant(plan.vocabulary_size, np.int64)])
        x = graph.node("Where", [known, x, graph.constant(1, np.int64)])
    if plan.per_sequence:
        level = (plan.input_mean, plan.input_scale) if plan.sequence_level else None
        x = _standardize_per_sequence(graph, x, seq_lens, level)
    elif plan.input_mean is not None:
        x = graph.node("Sub", [x, graph.constant(plan.input_mean, graph.np_dtype)])
        x = graph.node("Div", [x, graph.constant(plan.input_scale, graph.np_dtype)])
    if plan.frame_steps > 1:
        x, seq_lens = _stack_frames(
            graph, x, seq_lens, plan.frame_stride, plan.step_features, plan.frame_steps
        )
    out = _network(graph, plan.network, x, seq_lens)
    if plan.kind == "probabilities":
        graph.output(graph.node("Softmax", [out], axis=-1), "probabilities")
        index = graph.node("ArgMax", [out], axis=-1, keepdims=0)
        graph.output(graph.node("Gather", [graph.constant_labels(plan.classes), index]), "label")
        return
    values = graph.node("Cast", [out], to=onnx.TensorProto.DOUBLE)
    values = graph.node("Mul", [values, graph.constant(plan.output_scale, np.float64)])
    values = graph.node("Add", [values, graph.constant(plan.output_mean, np.float64)])
    shape = np.array([0, *plan.value_shape], np.int64)  # 0: keep the batch dimension
    graph.output(graph.node("Reshape", [values, graph.constant(shape, np.int64)]), "predictions")


def _valid_steps(graph, x, seq_lens):
    """Boolean ``(batch, time, 1)``: step ``t`` of sequence ``b`` is before its length."""

    def int64(values):
        return graph.constant(np.array(values, np.int64), np.int64)

    time = graph.node("Gather", [graph.node("Shape", [x]), int64(1)], axis=0)  # 0-d
    steps = graph.node("Unsqueeze", [graph.node("Range", [int64(0), time, int64(1)]), int64([0])])
    lengths = graph.node("Cast", [seq_lens], to=graph.onnx.TensorProto.INT64)
    valid = graph.node("Less", [steps, graph.node("Unsqueeze", [lengths, int64([1])])])
    return graph.node("Unsqueeze", [valid, int64([2])])


def _standardize_per_sequence(graph, x, seq_lens, level=None):
    """Each sequence per feature minus its mean, over its standard deviation (1 where 0), over
    its valid steps, in float64 as rnnfast computes it; steps past each length 0. With
    ``level = (mean, scale)`` of the training steps, followed by the sequence's mean and log
    deviation in those units (``rnnfast.data.sequences.standardize_with_level``)."""
    double = graph.onnx.TensorProto.DOUBLE
    axis = graph.constant(np.array([1], np.int64), np.int64)
    zero = graph.constant(np.float64(0.0), np.float64)
    values = graph.node("Cast", [x], to=double)
    if seq_lens is None:  # every step valid: the count is the time axis
        shape = graph.node("Cast", [graph.node("Shape", [x])], to=double)
        counts = graph.node("Gather", [shape, graph.constant(np.int64(1), np.int64)], axis=0)
        valid = None
    else:
        valid = _valid_steps(graph, x, seq_lens)
        values = graph.node("Where", [valid, values, zero])
        counts = graph.node(
            "Max",
            [
                graph.node("Cast", [seq_lens], to=double),
                graph.constant(np.float64(1.0), np.float64),
            ],
        )
        counts = graph.node(
            "Reshape", [counts, graph.constant(np.array([-1, 1, 1], np.int64), np.int64)]
        )
    mean = graph.node("Div", [graph.node("ReduceSum", [values, axis], keepdims=1), counts])
    centred = graph.node("Sub", [values, mean])
    if valid is not None:
        centred = graph.node("Where", [valid, centred, zero])
    square_sum = graph.node("ReduceSum", [graph.node("Mul", [centred, centred]), axis], keepdims=1)
    std = graph.node("Sqrt", [graph.node("Div", [square_sum, counts])])
    positive = graph.node("Greater", [std, zero])
    scale = graph.node("Where", [positive, std, graph.constant(np.float64(1.0), np.float64)])
    scaled = graph.node("Div", [centred, scale])
    if level is not None:
        units_mean = graph.constant(np.asarray(level[0], np.float64), np.float64)
        units_scale = graph.constant(np.asarray(level[1], np.float64), np.float64)
        ratio = graph.node(
            "Max",
            [
                graph.node("Div", [std, units_scale]),
                graph.constant(np.float64(LEVEL_SCALE_FLOOR), np.float64),
            ],
        )
        levels = graph.node(
            "Concat",
            [
                graph.node("Div", [graph.node("Sub", [mean, units_mean]), units_scale]),
                graph.node("Log", [ratio]),
            ],
            axis=2,
        )  # (batch, 1, 2F): repeated over the steps below
        if valid is None:  # every step valid: repeat over the time axis
            one = graph.constant(np.array([1], np.int64), np.int64)
            time = graph.node("Gather", [graph.node("Shape", [x]), one], axis=0)  # (1,)
            repeats = graph.node("Concat", [one, time, one], axis=0)  # [1, time, 1]
            levels = graph.node("Expand", [levels, repeats])
        else:
            levels = graph.node("Where", [valid, levels, zero])
        scaled = graph.node("Concat", [scaled, levels], axis=2)
    return graph.node("Cast", [scaled], to=graph.float_type)


def _stack_frames(graph, x, seq_lens, stride: int, n_features: int, size: int):
    """``(batch, time, F)`` -> ``(batch, ceil(time / stride), size * F)``: step ``k`` holds input
    steps ``[k * stride, k * stride + size)``, steps past each length zeroed first; int32
    ``seq_lens`` -> ``ceil(seq_lens / stride)``."""

    def int64(values):
        return graph.constant(np.array(values, np.int64), np.int64)

    def int32(value):
        return graph.constant(np.int32(value), np.int32)

    time = graph.node("Gather", [graph.node("Shape", [x]), int64(1)], axis=0)  # 0-d
    if seq_lens is not None:
        x = graph.node(
            "Mul", [x, graph.node("Cast", [_valid_steps(graph, x, seq_lens)], to=graph.float_type)]
        )
        seq_lens = graph.node(
            "Div", [graph.node("Add", [seq_lens, int32(stride - 1)]), int32(stride)]
        )
    # steps = ceil(time / stride); pad the time axis to (steps - 1) * stride + size
    steps = graph.node("Div", [graph.node("Add", [time, int64(stride - 1)]), int64(stride)])
    end = graph.node("Add", [graph.node("Mul", [steps, int64(stride)]), int64(size - stride)])
    pad = graph.node("Reshape", [graph.node("Sub", [end, time]), int64([1])])
    pads = graph.node("Concat", [int64([0, 0, 0, 0]), pad, int64([0])], axis=0)
    padded = graph.node("Pad", [x, pads])
    if size == stride:
        return graph.node("Reshape", [padded, int64([0, -1, stride * n_features])]), seq_lens
    # overlapping frames: gather input step k * stride + j for every step k and offset j
    starts = graph.node("Mul", [graph.node("Range", [int64(0), steps, int64(1)]), int64(stride)])
    index = graph.node(
        "Add",
        [graph.node("Unsqueeze", [starts, int64([1])]), int64(np.arange(size)[None, :])],
    )  # (steps, size)
    frames = graph.node("Gather", [padded, index], axis=1)  # (batch, steps, size, F)
    return graph.node("Reshape", [frames, int64([0, 0, size * n_features])]), seq_lens


def _network(graph, network, x, seq_lens):
    """``SequenceNetwork`` / ``SequenceAutoencoder`` forward on batch-first ``x``."""
    if isinstance(network, nn.SequenceAutoencoder):
        _, h_n, _ = _recurrent(graph, network.encoder, _time_major(graph, x), seq_lens)
        code = _top_final_features(graph, network.encoder, h_n)  # (batch, C)
        time = graph.node(
            "Slice",
            [
                graph.node("Shape", [x]),
                graph.constant(np.array([1], np.int64), np.int64),
                graph.constant(np.array([2], np.int64), np.int64),
            ],
        )
        one = graph.constant(np.array([1], np.int64), np.int64)
        repeat = graph.node("Concat", [one, time, one], axis=0)
        unsqueezed = graph.node(
            "Unsqueeze", [code, graph.constant(np.array([1], np.int64), np.int64)]
        )
        return _network(
            graph, network.decoder, graph.node("Expand", [unsqueezed, repeat]), seq_lens
        )
    if network.embedding is not None:  # (batch, time) ids -> (batch, time, E)
        table = graph.constant(network.embedding.params["weight"], graph.np_dtype)
        x = graph.node("Gather", [table, x], axis=0)
    output, h_n, _ = _recurrent(graph, network.recurrent, _time_major(graph, x), seq_lens)
    weight = network.head.params["weight"]
    bias = network.head.params["bias"]
    if network.per_step:
        features = graph.node("Transpose", [output], perm=[1, 0, 2])  # (batch, time, D*H)
        projected = graph.node("MatMul", [features, graph.constant(weight.T, graph.np_dtype)])
        return graph.node("Add", [projected, graph.constant(bias, graph.np_dtype)])
    if network.pooling == "last":
        features = _top_final_features(graph, network.recurrent, h_n)
    else:
        features = _pooled(
            graph, network, graph.node("Transpose", [output], perm=[1, 0, 2]), seq_lens
        )
    return graph.node(
        "Gemm",
        [features, graph.constant(weight, graph.np_dtype), graph.constant(bias, graph.np_dtype)],
        transB=1,
    )


def _pooled(graph, network, out, seq_lens):
    """``(batch, W)``: the batch-first outputs ``out`` ``(batch, time, W)`` pooled over each
    sequence's valid steps, as :class:`rnnfast.nn.SequencePooling` does."""
    time = graph.node("Gather", [graph.node("Shape", [out]), graph.constant(1, np.int64)])
    axis1 = graph.constant(np.array([1], np.int64), np.int64)
    if seq_lens is None:
        valid, count = None, graph.node("Cast", [time], to=graph.float_type)
    else:
        lengths = graph.node("Cast", [seq_lens], to=graph.onnx.TensorProto.INT64)
        steps = graph.node(
            "Range", [graph.constant(0, np.int64), time, graph.constant(1, np.int64)]
        )
        valid = graph.node(
            "Less",
            [
                graph.node("Unsqueeze", [steps, graph.constant(np.array([0], np.int64), np.int64)]),
                graph.node("Unsqueeze", [lengths, axis1]),
            ],
        )  # (batch, time)
        count = graph.node("Cast", [graph.node("Unsqueeze", [lengths, axis1])], to=graph.float_type)
    if valid is not None:
        valid3 = graph.node("Unsqueeze", [valid, graph.constant(np.array([2], np.int64), np.int64)])
    if network.pooling == "mean":
        if valid is not None:
            out = graph.node("Where", [valid3, out, graph.constant(0, graph.np_dtype)])
        return graph.node("Div", [graph.node("ReduceSum", [out, axis1], keepdims=0), count])
    if network.pooling == "max":
        if valid is not None:
            out = graph.node("Where", [valid3, out, graph.constant(-np.inf, graph.np_dtype)])
        if graph.opset >= 18:
            return graph.node("ReduceMax", [out, axis1], keepdims=0)
        return graph.node("ReduceMax", [out], axes=[1], keepdims=0)
    query = graph.constant(network.pool.params["query"], graph.np_dtype)
    scores = graph.node("MatMul", [out, query])  # (batch, time)
    if valid is not None:
        scores = graph.node("Where", [valid, scores, graph.constant(-np.inf, graph.np_dtype)])
    weights = graph.node("Softmax", [scores], axis=1)
    weights = graph.node("Unsqueeze", [weights, graph.constant(np.array([2], np.int64), np.int64)])
    return graph.node("ReduceSum", [graph.node("Mul", [weights, out]), axis1], keepdims=0)


def _top_final_features(graph, stack, h_n):
    """``(batch, D*H)``: the top layer's final state, forward then reverse (``h_n`` is
    ``(L*D, batch, H)``)."""
    dirs = stack.num_directions
    top = graph.node(
        "Slice",
        [
            h_n,
            graph.constant(np.array([(stack.num_layers - 1) * dirs], np.int64), np.int64),
            graph.constant(np.array([stack.num_layers * dirs], np.int64), np.int64),
        ],
    )
    batch_major = graph.node("Transpose", [top], perm=[1, 0, 2])
    return graph.node(
        "Reshape", [batch_major, graph.constant(np.array([0, -1], np.int64), np.int64)]
    )


def _time_major(graph, x):
    return graph.node("Transpose", [x], perm=[1, 0, 2])


def _recurrent(graph, stack, x_time_major, seq_lens):
    """Every layer of ``stack`` on ``(time, batch, features)``.

    Returns ``(output (time, batch, D*H), h_n (L*D, batch, H), c_n or None)``.
    """
    if stack.precision != "float" and graph.np_dtype is not np.float32:
        raise ValueError(
            f"a {stack.precision} module exports as a float32 graph only (dtype=numpy.float32)"
        )
    op = {nn.LSTM: "LSTM", nn.GRU: "GRU", nn.RNN: "RNN"}[type(stack)]
    attributes = {
        "hidden_size": stack.hidden_size,
        "direction": "bidirectional" if stack.bidirectional else "forward",
    }
    if op == "GRU":
        attributes["linear_before_reset"] = 1
    if op == "RNN":
        activation = "Relu" if stack.nonlinearity == "relu" else "Tanh"
        attributes["activations"] = [activation] * stack.num_directions
    layer_input, finals, cells = x_time_major, [], []
    for layer in range(stack.num_layers):
        w, r, b = _onnx_weights(stack, layer, op)
        if op == "LSTM" and stack.precision == "int8":
            outputs = _dynamic_quantize_lstm(graph, layer_input, w, r, b, seq_lens, attributes)
        else:
            inputs = [
                layer_input,
                _weight(graph, w, stack.precision),
                _weight(graph, r, stack.precision),
                graph.constant(b, graph.np_dtype),
                seq_lens or "",
            ]
            outputs = graph.node(op, inputs, n_outputs=3 if op == "LSTM" else 2, **attributes)
        y, h = outputs[0], outputs[1]
        finals.append(h)
        if op == "LSTM":
            cells.append(outputs[2])
        # (time, D, batch, H) -> (time, batch, D*H)
        y = graph.node("Transpose", [y], perm=[0, 2, 1, 3])
        layer_input = graph.node(
            "Reshape", [y, graph.constant(np.array([0, 0, -1], np.int64), np.int64)]
        )
    h_n = finals[0] if len(finals) == 1 else graph.node("Concat", finals, axis=0)
    c_n = None
    if cells:
        c_n = cells[0] if len(cells) == 1 else graph.node("Concat", cells, axis=0)
    return layer_input, h_n, c_n


def _weight(graph, array, precision: str):
    """A recurrent operator's ``W`` or ``R`` ``(D, G*H, K)`` input as the module serves it.

    ``"bfloat16"``: bfloat16 values Cast to float32: exactly the weights rnnfast multiplies,
    so the runtime computes what rnnfast does, up to float32 summation order. ``"int8"``: the
    int8 rows and their scales, dequantized (``DequantizeLinear``) into the float operator:
    ONNX has no integer GRU or RNN operator, so the runtime applies rnnfast's int8 weights to
    float activations.
    """
    if precision == "float":
        return graph.constant(array, graph.np_dtype)
    if precision == "bfloat16":
        bits = graph.constant_bfloat16(cpu.bfloat16_bits(np.ascontiguousarray(array, np.float32)))
        return graph.node("Cast", [bits], to=graph.onnx.TensorProto.FLOAT)
    rows = np.ascontiguousarray(array.reshape(-1, array.shape[-1]), np.float32)
    q, scale = cpu.quantize_rows_int8(rows)
    weights = graph.node(
        "DequantizeLinear", [graph.constant(q, np.int8), graph.constant(scale, np.float32)], axis=0
    )
    return graph.node("Reshape", [weights, graph.constant(np.array(array.shape), np.int64)])


def _dynamic_quantize_lstm(graph, x, w, r, b, seq_lens, attributes):
    """An int8 LSTM layer as onnxruntime's ``com.microsoft.DynamicQuantizeLSTM``: rnnfast's
    int8 weights and per-row scales, each step's activations quantized by the runtime (per
    tensor, where rnnfast's scales are per sample). Returns its ``[Y, Y_h, Y_c]``."""
    quantized = []
    for array in (w, r):  # ONNX (D, 4H, K) rows -> the operator's (D, K, 4H) and (D, 4H)
        dirs, gates, k = array.shape
        q, scale = cpu.quantize_rows_int8(np.ascontiguousarray(array.reshape(-1, k), np.float32))
        quantized += [
            graph.constant(q.reshape(dirs, gates, k).transpose(0, 2, 1), np.int8),
            graph.constant(scale.reshape(dirs, gates), np.float32),
            graph.constant(np.zeros((dirs, gates), np.int8), np.int8),
        ]
    q_w, scale_w, zero_w, q_r, scale_r, zero_r = quantized
    inputs = [x, q_w, q_r, graph.constant(b, np.float32), seq_lens or "", "", "", ""]
    inputs += [scale_w, zero_w, scale_r, zero_r]
    dirs, hidden = w.shape[0], attributes["hidden_size"]
    # onnx's shape inference does not know the com.microsoft operators: declare the outputs
    return graph.node(
        "DynamicQuantizeLSTM",
        inputs,
        n_outputs=3,
        domain="com.microsoft",
        output_shapes=[[None, dirs, None, hidden], [dirs, None, hidden], [dirs, None, hidden]],
        **attributes,
    )


def _onnx_weights(stack, layer: int, op: str):
    """ONNX ``W (D, G*H, in)``, ``R (D, G*H, H)``, ``B (D, 2*G*H)`` for one layer."""
    hidden, order = stack.hidden_size, _GATE_ORDER[op]

    def reorder(array):
        blocks = array.reshape(len(order), hidden, *array.shape[1:])
        return blocks[order].reshape(array.shape)

    ws, rs, bs = [], [], []
    for direction in range(stack.num_directions):
        w_ih, w_hh, b_ih, b_hh = stack._layer_weights(layer, direction)
        ws.append(reorder(w_ih))
        rs.append(reorder(w_hh))
        bs.append(np.concatenate([reorder(b_ih), reorder(b_hh)]))
    return np.stack(ws), np.stack(rs), np.stack(bs)


# ----------------------------------------------------------------------------- builder
class _Graph:
    """Accumulates nodes, initialisers, inputs and outputs with generated unique names."""

    def __init__(self, onnx, np_dtype, opset: int) -> None:
        self.onnx = onnx
        self.np_dtype = np_dtype
        self.opset = opset
        self.float_type = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(np_dtype))
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self.value_info, self.domains = [], set()  # outputs declared by hand; custom domains
        self._count = 0

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def input(self, name, shape, elem_type):
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def output(self, value: str, name: str) -> None:
        """Expose ``value`` as graph output ``name`` (through an Identity, so names are ours)."""
        self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name]))
        self.outputs.append(self.onnx.helper.make_empty_tensor_value_info(name))

    def constant(self, array, dtype) -> str:
        name = self._name("const")
        tensor = self.onnx.numpy_helper.from_array(np.ascontiguousarray(array, dtype), name)
        self.initializers.append(tensor)
        return name

    def constant_bfloat16(self, bits: np.ndarray) -> str:
        """A bfloat16 initialiser from its uint16 bit patterns."""
        name = self._name("const")
        tensor = self.onnx.helper.make_tensor(
            name, self.onnx.TensorProto.BFLOAT16, bits.shape, bits.tobytes(), raw=True
        )
        self.initializers.append(tensor)
        return name

    def constant_labels(self, classes: np.ndarray) -> str:
        """Class labels as a tensor: int64, float64, bool or (for text labels) string."""
        classes = np.asarray(classes)
        if classes.dtype.kind in "OUS":
            name = self._name("classes")
            values = [str(c).encode("utf-8") for c in classes]
            tensor = self.onnx.helper.make_tensor(
                name, self.onnx.TensorProto.STRING, [len(values)], values
            )
            self.initializers.append(tensor)
            return name
        kind = {"b": np.bool_, "i": np.int64, "u": np.int64, "f": np.float64}.get(
            classes.dtype.kind
        )
        if kind is None:
            raise TypeError(f"cannot export class labels of dtype {classes.dtype}")
        return self.constant(classes, kind)

    def node(
        self, op: str, inputs, n_outputs: int = 1, domain=None, output_shapes=None, **attributes
    ):
        """Append an ``op`` node; returns its output name (a list of them for several). An
        operator of a ``domain`` outside ONNX's declares its float32 ``output_shapes``
        (``None`` for a dimension known only when it runs)."""
        outputs = [self._name(op.lower()) for _ in range(n_outputs)]
        self.nodes.append(
            self.onnx.helper.make_node(op, list(inputs), outputs, domain=domain, **attributes)
        )
        if domain is not None:
            self.domains.add(domain)
        for name, shape in zip(outputs, output_shapes or [None] * n_outputs, strict=True):
            if shape is None:
                continue
            self.value_info.append(
                self.onnx.helper.make_tensor_value_info(name, self.onnx.TensorProto.FLOAT, shape)
            )
        return outputs[0] if n_outputs == 1 else outputs

    def model(self, opset: int, producer: str):
        helper = self.onnx.helper
        graph = helper.make_graph(
            self.nodes,
            "rnnfast",
            self.inputs,
            self.outputs,
            initializer=self.initializers,
            value_info=self.value_info,
        )
        opsets = [helper.make_opsetid("", opset)]
        opsets += [helper.make_opsetid(domain, 1) for domain in sorted(self.domains)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name=producer)
        model.ir_version = min(model.ir_version, 8)  # readable by older runtimes too
        return self.onnx.shape_inference.infer_shapes(model)


# ----------------------------------------------------------------------------- helpers
def _import_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "rnnfast.onnx.export needs the onnx package: pip install 'rnnfast[onnx]'"
        ) from exc
    return onnx


def _network_and_plan(obj):
    """``(module, None)`` for an nn module, ``(plan.network, plan)`` for an estimator."""
    if isinstance(obj, (nn.RecurrentStack, nn.SequenceNetwork, nn.SequenceAutoencoder)):
        return obj, None
    plan_of = getattr(obj, "_inference_plan", None)
    if plan_of is None:
        raise TypeError(
            "obj must be an rnnfast recurrent stack, SequenceNetwork, SequenceAutoencoder or a "
            f"fitted estimator, got {type(obj).__name__}"
        )
    plan = plan_of()
    return plan.network, plan


def _version() -> str:
    from rnnfast._version import __version__

    return __version__
