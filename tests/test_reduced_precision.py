"""Reduced-precision serving: ``freeze(precision="bfloat16" | "int8")``.

The int8 path is torch's dynamic quantization (int8 weights with a scale per output row, each
row of the layer's input quantized to 7 bits with a scale and zero point when multiplied,
exact integer sums), so besides the bounds against float32 it is checked against a numpy
model of that arithmetic. The portable kernel (the baseline CPU level) is forced in a
subprocess and must give the integer sums the AVX2 one gives.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnfast
from rnnfast.backends import cpu
from rnnfast.nn import GRU, LSTM, RNN
from rnnfast.persistence import ModelFileError

# the examples' configurations (examples/classification.py, examples/text_generation.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

REDUCED = ("bfloat16", "int8")
# Relative error of the output (Frobenius) against float32, the bounds.
BOUND = {"bfloat16": 1e-2, "int8": 2e-2}
MODULES = {
    "lstm": lambda **kw: LSTM(**kw),
    "gru": lambda **kw: GRU(**kw),
    "rnn_tanh": lambda **kw: RNN(**kw),
    "rnn_relu": lambda **kw: RNN(nonlinearity="relu", **kw),
}


def _relative_error(approx, exact) -> float:
    return float(np.linalg.norm(approx - exact) / np.linalg.norm(exact))


@pytest.mark.parametrize("precision", REDUCED)
@pytest.mark.parametrize("cell", list(MODULES))
@pytest.mark.parametrize(
    ("batch", "hidden", "layers", "bidirectional"),
    [(1, 256, 1, False), (3, 64, 2, True), (8, 130, 1, False), (40, 96, 2, False)],
)
def test_output_within_the_bound_of_float32(precision, cell, batch, hidden, layers, bidirectional):
    # torch's default initialisation (uniform in +-1/sqrt(H)); ragged lengths
    module = MODULES[cell](
        input_size=12,
        hidden_size=hidden,
        num_layers=layers,
        bidirectional=bidirectional,
        random_state=1,
    )
    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, 40, 12)).astype(np.float32)
    lengths = rng.integers(1, 41, batch)
    lengths[0] = 40
    exact, _ = module(x, lengths, training=False)
    approx, _ = module.freeze(precision)(x, lengths, training=False)
    assert _relative_error(approx, exact) <= BOUND[precision]


@pytest.mark.parametrize("precision", REDUCED)
def test_larger_weights_stay_within_the_bound(precision):
    # weights 3x torch's default scale: a state that saturates and a recurrence that amplifies
    module = LSTM(16, 128, random_state=3)
    module.load_state_dict({k: 3 * v for k, v in module.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((4, 60, 16)).astype(np.float32)
    exact, _ = module(x, training=False)
    approx, _ = module.freeze(precision)(x, training=False)
    assert _relative_error(approx, exact) <= BOUND[precision]


def _quantize_rows(a: np.ndarray):
    """numpy model of the kernel's dynamic quantization of each row of a float32 matrix."""
    lo = np.minimum(a.min(axis=1), 0).astype(np.float32)
    hi = np.maximum(a.max(axis=1), 0).astype(np.float32)
    scale = np.where(hi > lo, (hi - lo) / np.float32(127), np.float32(1)).astype(np.float32)
    inverse = (np.float32(1) / scale).astype(np.float32)
    zero = np.clip(np.rint(-lo * inverse), 0, 127).astype(np.int64)
    q = np.clip(np.rint(a * inverse[:, None]).astype(np.int64) + zero[:, None], 0, 127)
    return q, scale, zero


def _quantize_weights(w: np.ndarray):
    largest = np.abs(w).max(axis=1)
    scale = np.where(largest > 0, largest / np.float32(127), np.float32(1)).astype(np.float32)
    inverse = (np.float32(1) / scale).astype(np.float32)
    return np.clip(np.rint(w * inverse[:, None]), -127, 127).astype(np.int64), scale


def _int8_product(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """a @ w.T as the int8 kernel computes it."""
    qa, scale_a, zero = _quantize_rows(a)
    qw, scale_w = _quantize_weights(w)
    sums = qa @ qw.T - zero[:, None] * qw.sum(axis=1)[None, :]
    return sums.astype(np.float32) * (scale_a[:, None] * scale_w[None, :])


@pytest.mark.parametrize(
    "inputs, hidden, batch",
    [
        (20, 48, 7),  # 6 panels of 8 units: one short group, a 4-panel tile then a 2-panel one
        (300, 72, 7),  # 9 panels; the input projection split by panels, one split mid-group
        (33, 136, 1),  # 17 panels: two full groups of 8 and one of 1, at batch 1 ...
        (33, 136, 2),
        (33, 136, 3),  # ... 2 and 3 (short tiles over a group's panels)
        (40, 200, 9),  # 25 panels, two full row tiles and a row left over
    ],
)
def test_int8_step_is_torch_style_dynamic_quantization(inputs, hidden, batch):
    # One ReLU step from a given state: the output is the two quantized products plus the
    # biases, which the numpy model computes the same way (up to float32 rounding of the sum).
    module = RNN(inputs, hidden, nonlinearity="relu", random_state=5)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((batch, 1, inputs)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (1, batch, hidden)).astype(np.float32)
    p = module.params
    expected = np.maximum(
        _int8_product(x[:, 0], p["weight_ih_l0"])
        + p["bias_ih_l0"]
        + _int8_product(h0[0], p["weight_hh_l0"])
        + p["bias_hh_l0"],
        0,
    )
    out, _ = module.freeze("int8")(x, hx=h0, training=False)
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-5, atol=1e-6)


def _to_bfloat16(w):
    """w rounded to bfloat16 (nearest, ties to even), as float32."""
    bits = w.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return bits.astype(np.uint32).view(np.float32)


def test_bfloat16_step_multiplies_inputs_and_weights_rounded_to_nearest_even():
    # Both operands of every product are rounded to bf16: the products are then exact, and
    # the sum of a zero state's step is the numpy one up to float32 summation order.
    module = RNN(20, 48, nonlinearity="relu", random_state=5)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((7, 1, 20)).astype(np.float32)
    p = module.params
    product = _to_bfloat16(x[:, 0]).astype(np.float64) @ _to_bfloat16(p["weight_ih_l0"]).T
    expected = np.maximum(product + p["bias_ih_l0"] + p["bias_hh_l0"], 0)
    out, _ = module.freeze("bfloat16")(x, training=False)
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-5, atol=1e-6)
    # Inputs that are not exact in bf16 (x itself) give another output: the rounding is real.
    assert not np.allclose(
        out[:, 0],
        np.maximum(
            x[:, 0] @ _to_bfloat16(p["weight_ih_l0"]).T + p["bias_ih_l0"] + p["bias_hh_l0"], 0
        ),
        rtol=1e-6,
        atol=1e-7,
    )


def test_bfloat16_keeps_the_largest_finite_inputs_finite():
    # 3.4e38 rounds past bf16's largest finite value: saturated, not infinite, so the
    # products of opposite signs that meet it do not make a NaN.
    module = GRU(6, 10, random_state=7)
    x = np.zeros((2, 3, 6), np.float32)
    x[0, 1, 2] = np.float32(3.4e38)
    x[1, 1, 2] = np.float32(-3.4e38)
    exact, _ = module(x, training=False)
    served, _ = module.freeze("bfloat16")(x, training=False)
    assert np.isfinite(exact).all() and np.isfinite(served).all()
    assert _relative_error(served, exact) <= BOUND["bfloat16"]


@pytest.mark.parametrize("precision", REDUCED)
def test_a_served_module_refuses_a_nan_input(precision):
    # The kernels never see an input NaN (bf16's rounding would carry a NaN with a small
    # payload into infinity, and the gates would make that a finite output): refused first.
    x = np.zeros((2, 3, 6), np.float32)
    x[0, 1, 2] = np.array(0x7F800001, np.uint32).view(np.float32)  # NaN, payload 1
    with pytest.raises(ValueError, match="x contains NaN"):
        GRU(6, 10, random_state=7).freeze(precision)(x, training=False)


@pytest.mark.parametrize("precision", REDUCED)
def test_a_sample_does_not_depend_on_its_batch(precision):
    # per-sample activation scales: the same sequence gives the same bits alone or in a batch
    module = GRU(10, 200, random_state=7).freeze(precision)
    x = np.random.default_rng(8).standard_normal((9, 15, 10)).astype(np.float32)
    together, _ = module(x, training=False)
    for i in (0, 4, 8):
        alone, _ = module(x[i : i + 1], training=False)
        np.testing.assert_array_equal(alone[0], together[i])


@pytest.mark.parametrize("precision", REDUCED)
@pytest.mark.parametrize("split", ["rows", "columns"])
def test_every_step_split_gives_the_same_bits(precision, split):
    module = LSTM(10, 256, random_state=9).freeze(precision)
    x = np.random.default_rng(10).standard_normal((3, 12, 10)).astype(np.float32)
    auto, _ = module(x, training=False)
    previous = cpu.set_step_split(split)
    try:
        forced, _ = module(x, training=False)
    finally:
        cpu.set_step_split(previous)
    np.testing.assert_array_equal(forced, auto)


@pytest.mark.parametrize("precision", REDUCED)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_stream_steps_as_forward_does(precision, cell):
    module = MODULES[cell](input_size=6, hidden_size=40, num_layers=2, random_state=11)
    frozen = module.freeze(precision)
    x = np.random.default_rng(12).standard_normal((2, 25, 6)).astype(np.float32)
    expected, _ = frozen(x, training=False)
    stream = frozen.stream(batch_size=2)
    assert stream.precision == precision
    stepped = np.stack([stream.step(x[:, t]) for t in range(25)], axis=1)
    np.testing.assert_array_equal(stepped, expected)


@pytest.mark.parametrize("precision", REDUCED)
def test_pickle_save_and_load_keep_the_precision(precision, tmp_path):
    frozen = LSTM(5, 24, random_state=13).freeze(precision)
    x = np.random.default_rng(14).standard_normal((3, 9, 5)).astype(np.float32)
    expected, _ = frozen(x, training=False)
    for copy in (pickle.loads(pickle.dumps(frozen)), _saved_and_loaded(frozen, tmp_path)):
        assert copy.frozen and copy.precision == precision
        np.testing.assert_array_equal(copy(x, training=False)[0], expected)


def _saved_and_loaded(obj, tmp_path):
    path = tmp_path / "model.rnnfast"
    rnnfast.save(obj, path)
    return rnnfast.load(path)


def test_float_freeze_keeps_float_precision():
    module = GRU(4, 16, random_state=0)
    assert module.precision == "float"
    assert module.freeze().precision == "float"
    assert module.stream().precision == "float"


def test_errors():
    module = LSTM(4, 16, random_state=0)
    for bad in ("float16", "INT8", None, 8):
        with pytest.raises(ValueError, match="precision must be one of"):
            module.freeze(bad)
    with pytest.raises(ValueError, match="serves float32 modules only; this one is float64"):
        LSTM(4, 16, dtype=np.float64).freeze("int8")
    frozen = module.freeze("int8")
    with pytest.raises(ValueError, match="frozen"):
        frozen(np.zeros((1, 3, 4), np.float32))  # a training forward
    with pytest.raises(ValueError, match="read-only"):
        frozen.params["weight_hh_l0"][0, 0] = 1.0
    with pytest.raises(ValueError, match="NaN or infinity"):
        cpu.pack_layer(
            np.full((64, 4), np.nan, np.float32), np.zeros((64, 16), np.float32), 4, "int8"
        )


@pytest.mark.parametrize(
    ("precision", "dtype", "match"),
    [("int4", np.float32, "must be one of"), ("int8", np.float64, "float32 modules only")],
)
def test_a_hostile_file_cannot_claim_a_bad_precision(precision, dtype, match, tmp_path):
    module = LSTM(3, 8, dtype=dtype, random_state=0)
    module._precision = precision  # what a crafted file could hold
    path = tmp_path / "bad.rnnfast"
    rnnfast.save(module, path)
    with pytest.raises((ModelFileError, ValueError), match=match):
        rnnfast.load(path)


_LEVEL_SCRIPT = """
import json, sys
import numpy as np
from rnnfast.backends import cpu
from rnnfast.nn import GRU
module = GRU(33, 70, num_layers=2, random_state=15)
x = np.random.default_rng(16).standard_normal((5, 20, 33)).astype(np.float32)
out = {p: module.freeze(p)(x, training=False)[0].tolist() for p in ("bfloat16", "int8")}
json.dump({"level": cpu.runtime_info()["cpu_level"], "out": out}, sys.stdout)
"""


_ONE_STEP_SCRIPT = """
import json, sys
import numpy as np
from rnnfast.backends import cpu
from rnnfast.nn import RNN
x = np.random.default_rng(22).standard_normal((9, 1, 71)).astype(np.float32)
out = {}
for precision in ("bfloat16", "int8"):
    module = RNN(71, 90, nonlinearity="relu", random_state=21).freeze(precision)
    out[precision] = module(x, training=False)[0].view(np.uint32).tolist()
info = cpu.runtime_info()
json.dump({"level": info["cpu_level"], "out": out,
           "kernels": [info["int8_kernel"], info["bfloat16_kernel"]]}, sys.stdout)
"""


def _run_at_level(level: str | None, script: str = _LEVEL_SCRIPT, disable: str = "") -> dict:
    env = dict(os.environ)
    env.pop("RNNFAST_CPU_LEVEL", None)
    env.pop("RNNFAST_DISABLE_CPU_FEATURES", None)
    if level:
        env["RNNFAST_CPU_LEVEL"] = level
    if disable:
        env["RNNFAST_DISABLE_CPU_FEATURES"] = disable
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_portable_kernels_agree_with_this_cpus():
    # The baseline level compiles the portable int8 kernel (scalar int32 sums) and 16-byte
    # bf16 widening; whatever level this CPU runs must agree with it. The integer sums are
    # identical; the gate math may round differently between levels (as at float32).
    portable = _run_at_level("baseline")
    best = _run_at_level(None)
    assert portable["level"] == "baseline"
    if best["level"] == "baseline":
        pytest.skip("this CPU runs only the baseline level: nothing to compare it with")
    for precision in REDUCED:
        np.testing.assert_allclose(
            np.array(portable["out"][precision]), np.array(best["out"][precision]), atol=2e-6
        )


def _cpu_has(flag: str) -> bool | None:
    """Whether the kernel says this CPU has `flag` (None where it cannot be read)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    disabled = os.environ.get("RNNFAST_DISABLE_CPU_FEATURES", "").split(",")
    return f" {flag}" in flags and flag.replace("_", "") not in disabled


def _cpu_vendor() -> str:
    """The vendor the kernel reports, e.g. "GenuineIntel", "AuthenticAMD" ("" if unknown)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    found = re.search(r"^vendor_id\s*:\s*(\S+)", cpuinfo, re.MULTILINE)
    return found.group(1) if found else ""


def test_show_config_names_the_kernels():
    info = cpu.runtime_info()
    int8 = "portable" if info["cpu_level"] == "baseline" else "avx2"
    vector_bits = {"baseline": 128, "avx2": 256, "avx512": 512}[info["cpu_level"]]
    bf16 = f"bf16 widened to float32 in {vector_bits}-bit vectors"
    if info["cpu_level"] == "avx512":
        vnni, bf16_instructions = _cpu_has("avx512_vnni"), _cpu_has("avx512_bf16")
        if vnni is None:
            pytest.skip("no /proc/cpuinfo to tell whether this CPU has AVX512-VNNI and -BF16")
        int8 = "avx512-vnni" if vnni else "avx2"
        # vdpbf16ps only on AMD's CPUs: on Intel's it measured slower than widening
        if bf16_instructions and _cpu_vendor() == "AuthenticAMD":
            bf16 = "avx512-bf16"
    assert info["int8_kernel"].startswith(int8)
    assert info["bfloat16_kernel"].startswith(bf16)


def test_every_kernel_gives_the_same_bits():
    # One ReLU step from a zero state: int8 gives scale * integer sum + biases, bf16 a sum of
    # exact products in k order; rounded the same way everywhere, so every kernel (VNNI,
    # AVX2, portable int8; vdpbf16ps, 512-, 256- and 128-bit widening bf16) must agree bit
    # for bit. The AVX-512 level runs twice where the CPU has VNNI or BF16: with them and
    # with them turned off (the kernels CPUs without them take; vdpbf16ps runs on AMD's).
    info = cpu.runtime_info()
    runs = {
        level: _run_at_level(level, _ONE_STEP_SCRIPT)
        for level in ("baseline", "avx2", "avx512")
        if level in info["cpu_levels_built"] and level in info["cpu_levels_supported"]
    }
    if "avx512" in runs:
        runs["avx512 without vnni, bf16"] = _run_at_level(
            "avx512", _ONE_STEP_SCRIPT, disable="avx512vnni,avx512bf16"
        )
    kernels = {tuple(run["kernels"]) for run in runs.values()}
    if len(kernels) < 2:
        pytest.skip("this CPU runs only one set of kernels")
    first = next(iter(runs.values()))["out"]
    for name, run in runs.items():
        for precision in REDUCED:
            assert run["out"][precision] == first[precision], (name, precision)


def test_disabling_a_feature_changes_the_kernel_named():
    if not _cpu_has("avx512_vnni") or "avx512" not in cpu.runtime_info()["cpu_levels_supported"]:
        pytest.skip("this CPU has no AVX512-VNNI to turn off")
    int8_on, bf16_on = _run_at_level("avx512", _ONE_STEP_SCRIPT)["kernels"]
    int8_off, bf16_off = _run_at_level("avx512", _ONE_STEP_SCRIPT, disable="avx512vnni,avx512bf16")[
        "kernels"
    ]
    assert int8_on.startswith("avx512-vnni") and int8_off.startswith("avx2")
    if _cpu_has("avx512_bf16") and _cpu_vendor() == "AuthenticAMD":
        assert bf16_on.startswith("avx512-bf16")
    assert bf16_off.startswith("bf16 widened to float32 in 512")


# ------------------------------------------------------------------------------- estimators
@pytest.mark.parametrize("precision", REDUCED)
def test_estimator_serves_in_reduced_precision_and_saves_so(precision, tmp_path):
    from test_frozen_estimators import RAGGED, _fitted

    est, _ = _fitted("classifier")
    served = est.freeze(precision)
    assert served.network_.recurrent.precision == precision
    assert est.network_.recurrent.precision == "float"
    expected = served.predict_proba(RAGGED)
    np.testing.assert_allclose(expected, est.predict_proba(RAGGED), atol=0.05)
    loaded = _saved_and_loaded(served, tmp_path)
    assert loaded.network_.recurrent.precision == precision
    np.testing.assert_array_equal(loaded.predict_proba(RAGGED), expected)
    with pytest.raises(ValueError, match="precision must be one of"):
        est.freeze("fp8")


def test_japanese_vowels_predictions_agree_with_float32():
    # The example's configuration for the set at a tenth of its epochs (97.8% on the test
    # split): the bar is agreement with float32 on >= 99% of the 370 test samples.
    import classification

    params = dict(classification.CONFIGS["japanese_vowels"][1], max_epochs=6)
    pipeline = classification.make_model(params, seed=0, members=1)
    data = rnnfast.datasets.load_japanese_vowels()
    pipeline.fit(data.X_train, data.y_train)
    scaler, model = pipeline[0], pipeline[-1]
    X = scaler.transform(data.X_test)
    expected = model.predict(X)
    assert np.mean(expected == data.y_test) > 0.95
    for precision in REDUCED:
        agreement = np.mean(model.freeze(precision).predict(X) == expected)
        assert agreement >= 0.99, (precision, agreement)


@pytest.mark.slow
def test_char_lm_bits_per_char_within_one_percent():
    # examples/text_generation.py's model on its quick corpus, 8 epochs (3.86 bits per char)
    import text_generation as example

    train, held_out = example.corpus(quick=True)
    model = rnnfast.CharRNN(
        hidden_size=example.HIDDEN,
        seq_length=example.SEQ_LENGTH,
        batch_size=example.BATCH,
        learning_rate=example.LEARNING_RATE,
        max_epochs=8,
        random_state=0,
    ).fit(train)
    exact = model.bits_per_char(held_out)
    assert exact < 4.2
    for precision in REDUCED:
        served = model.freeze(precision).bits_per_char(held_out)
        assert abs(served / exact - 1) <= 0.01, (precision, served, exact)


def test_to_torch_refuses_what_torch_has_no_equivalent_of():
    pytest.importorskip("torch")
    from test_frozen_estimators import _fitted

    from rnnfast.interop import to_torch

    est, _ = _fitted("classifier")  # a GRU network
    served = est.freeze("bfloat16")
    for obj in (served, served.network_, served.network_.recurrent):
        with pytest.raises(ValueError, match="no bfloat16 equivalent of this GRU"):
            to_torch(obj)
    with pytest.raises(ValueError, match="no int8 equivalent of this RNN"):
        to_torch(RNN(3, 8).freeze("int8"))
    to_torch(est)  # the float one it was frozen from exports as before


def test_the_exporters_quantization_is_the_kernels():
    # what rnnfast.onnx writes into a file is what the packs multiply (the numpy models above
    # are checked against the kernels' outputs)
    w = np.random.default_rng(30).standard_normal((37, 29)).astype(np.float32)
    w[3] = 0  # a row of zeros: scale 1
    q, scale = cpu.quantize_rows_int8(w)
    expected_q, expected_scale = _quantize_weights(w)
    assert q.dtype == np.int8 and scale.dtype == np.float32
    np.testing.assert_array_equal(q, expected_q)
    np.testing.assert_array_equal(scale, expected_scale)
    bits = cpu.bfloat16_bits(w)
    assert bits.dtype == np.uint16 and bits.shape == w.shape
    expected_bits = w.view(np.uint32).astype(np.uint64)
    expected_bits = (expected_bits + 0x7FFF + ((expected_bits >> 16) & 1)) >> 16
    np.testing.assert_array_equal(bits, expected_bits.astype(np.uint16))
    with pytest.raises(ValueError, match="NaN or infinity"):
        cpu.quantize_rows_int8(np.full((2, 3), np.nan, np.float32))
    with pytest.raises(TypeError):
        cpu.bfloat16_bits(w.astype(np.float64))


def _onnx_outputs(obj, x, lengths=None):
    pytest.importorskip("onnxruntime")
    from test_onnx import run_onnx

    return run_onnx(obj, x, lengths)


@pytest.mark.parametrize("precision", REDUCED)
@pytest.mark.parametrize("cell", list(MODULES))
def test_onnx_export_serves_in_the_modules_precision(precision, cell, tmp_path):
    module = MODULES[cell](
        input_size=6, hidden_size=40, num_layers=2, bidirectional=True, random_state=31
    )
    served = module.freeze(precision)
    x = np.random.default_rng(32).standard_normal((4, 9, 6)).astype(np.float32)
    lengths = np.array([9, 3, 1, 6])
    got = _onnx_outputs(served, x, lengths)
    output, state = served(x, lengths, training=False)
    if precision == "bfloat16":
        # The graph multiplies rnnfast's bf16 weights by float32 activations (the ONNX
        # operators have no bf16 state): a float32 module with those weights, up to sum order.
        rounded = MODULES[cell](
            input_size=6, hidden_size=40, num_layers=2, bidirectional=True, random_state=31
        )
        for name, value in module.params.items():
            if name.startswith("weight"):
                rounded.params[name][...] = _to_bfloat16(value)
        exact, exact_state = rounded(x, lengths, training=False)
        exact_h_n = exact_state[0] if cell == "lstm" else exact_state
        np.testing.assert_allclose(got["output"], exact, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got["h_n"], exact_h_n, rtol=1e-4, atol=1e-5)
        assert _relative_error(got["output"], output) <= BOUND["bfloat16"]
    elif cell == "lstm":  # onnxruntime's DynamicQuantizeLSTM: activations quantized per tensor
        assert _relative_error(got["output"], output) <= BOUND["int8"]
        assert _relative_error(got["c_n"], state[1]) <= BOUND["int8"]
    else:  # rnnfast's int8 weights dequantized into the float operator: float activations
        dequantized = MODULES[cell](
            input_size=6, hidden_size=40, num_layers=2, bidirectional=True, random_state=31
        )
        for name, value in module.params.items():
            if name.startswith("weight"):
                q, scale = _quantize_weights(value)
                dequantized.params[name][...] = q.astype(np.float32) * scale[:, None]
        exact, _ = dequantized(x, lengths, training=False)
        np.testing.assert_allclose(got["output"], exact, rtol=1e-4, atol=1e-5)
        assert _relative_error(got["output"], output) <= BOUND["int8"]
    assert _relative_error(got["output"], module(x, lengths, training=False)[0]) <= BOUND[precision]

    import onnx

    from rnnfast.onnx import export

    model = export(served, tmp_path / "served.onnx")
    # the file holds the reduced weights, not float32 copies: its float32 numbers are the
    # biases and (int8) a scale per weight row
    floats = sum(
        int(np.prod(t.dims))
        for t in model.graph.initializer
        if t.data_type == onnx.TensorProto.FLOAT
    )
    biases = sum(v.size for k, v in module.params.items() if k.startswith("bias"))
    rows = sum(v.shape[0] for k, v in module.params.items() if k.startswith("weight"))
    assert floats == biases + (rows if precision == "int8" else 0)
    export(module, tmp_path / "float.onnx")
    ratio = (tmp_path / "served.onnx").stat().st_size / (tmp_path / "float.onnx").stat().st_size
    assert ratio < {"bfloat16": 0.6, "int8": 0.35}[precision]
    if cell == "lstm" and precision == "int8":
        assert [n.op_type for n in model.graph.node].count("DynamicQuantizeLSTM") == 2
    else:
        assert all(n.domain in ("", "ai.onnx") for n in model.graph.node)


@pytest.mark.parametrize("precision", REDUCED)
def test_onnx_export_of_a_reduced_precision_estimator(precision):
    from test_frozen_estimators import X, _fitted

    est, _ = _fitted("classifier")
    served = est.freeze(precision)
    got = _onnx_outputs(served, X)
    np.testing.assert_allclose(got["probabilities"], served.predict_proba(X), atol=0.02)
    if precision == "bfloat16":
        assert got["label"].tolist() == served.predict(X).tolist()
    from rnnfast.onnx import export

    with pytest.raises(ValueError, match="exports as a float32 graph only"):
        export(served, io.BytesIO(), dtype=np.float64)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_to_torch_gives_torchs_dynamic_quantization(cell):
    torch = pytest.importorskip("torch")
    from test_frozen_estimators import X, _fitted

    from rnnfast.interop import to_torch

    served = MODULES[cell](input_size=12, hidden_size=64, num_layers=2, random_state=17)
    served = served.freeze("int8")
    twin = to_torch(served)
    assert "quantized" in type(twin).__module__
    x = np.random.default_rng(18).standard_normal((5, 30, 12)).astype(np.float32)
    ours, _ = served(x, training=False)
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x))[0].numpy()
    assert _relative_error(theirs, ours) <= 3e-2

    est, _ = _fitted("classifier")  # a GRU network
    quantized = est.freeze("int8")
    with torch.no_grad():
        proba = to_torch(quantized).eval()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(proba, quantized.predict_proba(X), atol=0.05)
