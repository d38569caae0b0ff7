// Bindings of core/layer.h for every cell and dtype: check, allocate, release the GIL, call.
#include <memory>
#include <type_traits>
#include <optional>
#include <string>
#include <vector>

#include "../cells/gru_cell.h"
#include "../cells/lstm_cell.h"
#include "../cells/rnn_cell.h"
#include "../core/int8_gemm.h"
#include "../core/layer.h"
#include "checks.h"
#include "pooled_array.h"

namespace rnnfast::bindings {
namespace {

using IndexArray = py::array_t<int64_t, py::array::c_style>;

struct Geometry {
  LayerDims dims;
  int G = 0;
};

template <class Cell, typename T>
Geometry geometry(const Array<T>& x, const Array<T>& w_hh) {
  if (x.ndim() != 3) throw py::value_error("x must be 3-D (time, batch, input)");
  if (w_hh.ndim() != 2) throw py::value_error("w_hh must be 2-D");
  Geometry g;
  g.G = Cell::kGates;
  g.dims = {int(x.shape(0)), int(x.shape(1)), int(x.shape(2)), int(w_hh.shape(1))};
  require_int32(x.shape(0) * x.shape(1) * std::max<int64_t>({1, x.shape(2), Cell::kCacheWidth *
                                                            w_hh.shape(1)}),
                "time * batch * width");
  return g;
}

template <typename T>
LayerWeights<T> checked_weights(const Geometry& g, const Array<T>& w_ih, const Array<T>& w_hh,
                                const Array<T>& b_ih, const Array<T>& b_hh) {
  const py::ssize_t GH = py::ssize_t(g.G) * g.dims.H;
  require_shape(w_ih, {GH, g.dims.I}, "w_ih");
  require_shape(w_hh, {GH, g.dims.H}, "w_hh");
  require_shape(b_ih, {GH}, "b_ih");
  require_shape(b_hh, {GH}, "b_hh");
  return {w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()};
}

Lengths checked_lengths(const std::optional<IndexArray>& lengths, const LayerDims& d) {
  if (!lengths) return {};
  require_shape(*lengths, {d.B}, "lengths");
  return {lengths->data()};
}

template <typename T>
const T* optional_state(const std::optional<Array<T>>& a, const LayerDims& d, const char* name) {
  if (!a) return nullptr;
  require_shape(*a, {d.B, d.H}, name);
  return a->data();
}

// The window of H columns starting at `col` of a [T, B, W] array, or of a [B, T, W] one when
// batch_first; checks that it fits.
template <typename T, typename A>
SequenceRows<T> checked_window(A& a, T* data, const LayerDims& d, int col, bool batch_first,
                               const char* name) {
  const py::ssize_t outer = batch_first ? d.B : d.T, inner = batch_first ? d.T : d.B;
  if (a.ndim() != 3 || a.shape(0) != outer || a.shape(1) != inner || col < 0 ||
      a.shape(2) < py::ssize_t(col) + d.H)
    throw py::value_error(std::string(name) + " must have shape " +
                          (batch_first ? "(B, T, W)" : "(T, B, W)") + " with W >= col + H");
  const int ld = int(a.shape(2));
  return batch_first ? SequenceRows<T>::batch_first(data + col, d.T, ld)
                     : SequenceRows<T>::time_major(data + col, d.B, ld);
}

// Weights: the packs' kind; a reduced-precision one serves inference calls only.
template <class Cell, typename T, class Weights = PackedWeights<T>>
py::tuple forward(const Array<T>& x, const Array<T>& w_ih, const Array<T>& w_hh,
                  const Array<T>& b_ih, const Array<T>& b_hh, const Array<T>& h0,
                  const std::optional<Array<T>>& c0, const std::optional<IndexArray>& lengths,
                  bool reverse, bool training, Array<T>& y, int y_col, bool y_batch_first,
                  const PackedLayer<T, Weights>* packed) {
  const Geometry g = geometry<Cell, T>(x, w_hh);
  const LayerDims& d = g.dims;
  const LayerWeights<T> w = checked_weights(g, w_ih, w_hh, b_ih, b_hh);
  if (packed && training) throw py::value_error("packed weights are for inference calls only");
  if (packed && (packed->G != g.G || packed->H != d.H || packed->I != d.I))
    throw py::value_error("packed weights do not match this layer's shapes");
  const Lengths len = checked_lengths(lengths, d);
  require_shape(h0, {d.B, d.H}, "h0");
  const T* c0_ptr = optional_state(c0, d, "c0");
  if (Cell::kHasCellState && !c0_ptr) throw py::value_error("c0 is required for this cell");
  require_writeable(y, "y");
  const SequenceRows<T> y_rows =
      checked_window<T>(y, y.mutable_data(), d, y_col, y_batch_first, "y");

  Array<T> h_n({d.B, d.H});
  std::optional<Array<T>> c_n;
  if (Cell::kHasCellState) c_n.emplace(std::vector<py::ssize_t>{d.B, d.H});
  T* c_n_ptr = c_n ? c_n->mutable_data() : nullptr;

  if (!training) {
    {
      py::gil_scoped_release release;  // pure C++ on buffers we hold references to
      layer_forward<Cell, T, false, Weights>(d, len, reverse, w, x.data(), h0.data(), c0_ptr,
                                             y_rows, h_n.mutable_data(), c_n_ptr, nullptr, packed);
    }
    return py::make_tuple(h_n, c_n ? py::object(*c_n) : py::none(), py::none());
  }
  if constexpr (!std::is_same_v<Weights, PackedWeights<T>>) {
    throw py::value_error("reduced-precision weights are for inference calls only");
  } else {
  Array<T> gates =
      pooled_array<T>({py::ssize_t(d.T), py::ssize_t(d.B), py::ssize_t(Cell::kCacheWidth) * d.H});
  Array<T> h_slots = pooled_array<T>({d.T + 1, d.B, d.H});
  std::optional<Array<T>> c_slots;
  if (Cell::kHasCellState) c_slots.emplace(pooled_array<T>({d.T + 1, d.B, d.H}));
  LayerCache<T> cache{gates.mutable_data(), h_slots.mutable_data(),
                      c_slots ? c_slots->mutable_data() : nullptr};
  {
    py::gil_scoped_release release;  // pure C++ on buffers we hold references to
    layer_forward<Cell, T, true>(d, len, reverse, w, x.data(), h0.data(), c0_ptr, y_rows,
                                 h_n.mutable_data(), c_n_ptr, &cache);
  }
  py::tuple cache_arrays =
      py::make_tuple(gates, h_slots, c_slots ? py::object(*c_slots) : py::none());
  return py::make_tuple(h_n, c_n ? py::object(*c_n) : py::none(), cache_arrays);
  }
}

template <class Cell, typename T>
py::tuple backward(const Array<T>& x, const Array<T>& w_ih, const Array<T>& w_hh,
                   const Array<T>& b_ih, const Array<T>& b_hh,
                   const std::optional<IndexArray>& lengths, bool reverse, Array<T>& gates,
                   const Array<T>& h_slots, const std::optional<Array<T>>& c_slots,
                   const Array<T>& dy, int dy_col, bool dy_batch_first,
                   const std::optional<Array<T>>& dh_n,
                   const std::optional<Array<T>>& dc_n, Array<T>& dx, bool dx_accumulate,
                   Array<T>& dw_ih,
                   Array<T>& dw_hh, Array<T>& db_ih, Array<T>& db_hh) {
  const Geometry g = geometry<Cell, T>(x, w_hh);
  const LayerDims& d = g.dims;
  const LayerWeights<T> w = checked_weights(g, w_ih, w_hh, b_ih, b_hh);
  const Lengths len = checked_lengths(lengths, d);
  require_shape(gates, {d.T, d.B, py::ssize_t(Cell::kCacheWidth) * d.H}, "gates");
  require_shape(h_slots, {d.T + 1, d.B, d.H}, "h_slots");
  if (Cell::kHasCellState) {
    if (!c_slots) throw py::value_error("c_slots is required for this cell");
    require_shape(*c_slots, {d.T + 1, d.B, d.H}, "c_slots");
  }
  const SequenceRows<const T> dy_rows =
      checked_window<const T>(dy, dy.data(), d, dy_col, dy_batch_first, "dy");
  const T* dh_n_ptr = optional_state(dh_n, d, "dh_n");
  const T* dc_n_ptr = optional_state(dc_n, d, "dc_n");
  require_shape(dx, {d.T, d.B, d.I}, "dx");
  const py::ssize_t GH = py::ssize_t(g.G) * d.H;
  require_shape(dw_ih, {GH, d.I}, "dw_ih");
  require_shape(dw_hh, {GH, d.H}, "dw_hh");
  require_shape(db_ih, {GH}, "db_ih");
  require_shape(db_hh, {GH}, "db_hh");
  for (auto* a : {&dx, &dw_ih, &dw_hh, &db_ih, &db_hh}) require_writeable(*a, "gradient output");
  require_writeable(gates, "gates (backward writes its gradients over the cache)");

  const LayerCache<T> cache{gates.mutable_data(), const_cast<T*>(h_slots.data()),
                            c_slots ? const_cast<T*>(c_slots->data()) : nullptr};
  const LayerGrads<T> grads{dw_ih.mutable_data(), dw_hh.mutable_data(), db_ih.mutable_data(),
                            db_hh.mutable_data()};
  Array<T> dh0({d.B, d.H});
  std::optional<Array<T>> dc0;
  if (Cell::kHasCellState) dc0.emplace(std::vector<py::ssize_t>{d.B, d.H});
  {
    py::gil_scoped_release release;  // pure C++ on buffers we hold references to
    layer_backward<Cell, T>(d, len, reverse, w, x.data(), cache, dy_rows, dh_n_ptr, dc_n_ptr,
                            dx.mutable_data(), dx_accumulate, grads, dh0.mutable_data(),
                            dc0 ? dc0->mutable_data() : nullptr);
  }
  return py::make_tuple(dh0, dc0 ? py::object(*dc0) : py::none());
}

// <cell>_forward<suffix> for one kind of packs. The reduced precisions get functions of their
// own rather than overloads: pybind11 tries overloads in turn, and a call that reached the
// third (int8) spent ~0.5 ms failing the first two.
template <class Cell, typename T, class Weights>
void register_forward(py::module_& m, const std::string& name, const char* suffix = "") {
  m.def((name + "_forward" + suffix).c_str(), &forward<Cell, T, Weights>, py::arg("x").noconvert(),
        py::arg("w_ih").noconvert(), py::arg("w_hh").noconvert(), py::arg("b_ih").noconvert(),
        py::arg("b_hh").noconvert(), py::arg("h0").noconvert(), py::arg("c0").noconvert(),
        py::arg("lengths").noconvert(), py::arg("reverse"), py::arg("training"),
        py::arg("y").noconvert(), py::arg("y_col"), py::arg("y_batch_first") = false,
        py::arg("packed") = py::none(),
        "One layer, one direction over a time-major sequence x; y is time-major, or "
        "(B, T, W) when y_batch_first; packed: pack_layer(w_ih, w_hh, gates) of these weights "
        "(inference). Returns (h_n, c_n, cache).");
}

template <class Cell, typename T>
void register_cell_dtype(py::module_& m, const std::string& name) {
  register_forward<Cell, T, PackedWeights<T>>(m, name);
  if constexpr (std::is_same_v<T, float>) {
    register_forward<Cell, T, BFloat16Weights>(m, name, "_bfloat16");
    register_forward<Cell, T, Int8Weights>(m, name, "_int8");
  }
  m.def((name + "_backward").c_str(), &backward<Cell, T>, py::arg("x").noconvert(),
        py::arg("w_ih").noconvert(), py::arg("w_hh").noconvert(), py::arg("b_ih").noconvert(),
        py::arg("b_hh").noconvert(), py::arg("lengths").noconvert(), py::arg("reverse"),
        py::arg("gates").noconvert(), py::arg("h_slots").noconvert(),
        py::arg("c_slots").noconvert(), py::arg("dy").noconvert(), py::arg("dy_col"),
        py::arg("dy_batch_first") = false,
        py::arg("dh_n").noconvert(), py::arg("dc_n").noconvert(), py::arg("dx").noconvert(),
        py::arg("dx_accumulate") = true, py::arg("dw_ih").noconvert(), py::arg("dw_hh").noconvert(),
        py::arg("db_ih").noconvert(), py::arg("db_hh").noconvert(),
        "BPTT of one layer and direction; accumulates into dx (or overwrites it when not "
        "dx_accumulate: then dx may be a view of h_slots' memory, read for the last time "
        "before dx is written) and into the weight gradients, and consumes the cache (its "
        "gates are overwritten with gradients). Returns (dh0, dc0).");
}

// W_ih and W_hh of one layer and direction packed once (PackedLayer), for inference calls.
template <typename T, class Weights = PackedWeights<T>>
std::unique_ptr<PackedLayer<T, Weights>> pack_layer(const Array<T>& w_ih, const Array<T>& w_hh,
                                                    int gates) {
  if (gates < 1 || w_hh.ndim() != 2 || w_ih.ndim() != 2 || w_hh.shape(1) < 1 ||
      w_hh.shape(0) != gates * w_hh.shape(1) || w_ih.shape(0) != w_hh.shape(0))
    throw py::value_error("pack_layer: w_hh must be (gates * H, H) and w_ih (gates * H, I)");
  require_int32(w_hh.shape(0) * std::max<py::ssize_t>(w_hh.shape(1), w_ih.shape(1)),
                "gates * H * max(H, I)");
  const int H = int(w_hh.shape(1)), I = int(w_ih.shape(1));
  if constexpr (!std::is_same_v<Weights, PackedWeights<T>>)
    require_quantizable({&w_ih, &w_hh}, Int8Weights::kMaxK);
  py::gil_scoped_release release;
  return std::make_unique<PackedLayer<T, Weights>>(w_ih.data(), w_hh.data(), gates, H, I);
}

template <typename T, class Weights = PackedWeights<T>>
void register_packed_layer(py::module_& m, const char* name, const char* function) {
  using Packed = PackedLayer<T, Weights>;
  py::class_<Packed>(m, name, "W_ih and W_hh of a layer packed for inference calls.")
      .def_readonly("gates", &Packed::G)
      .def_readonly("hidden_size", &Packed::H)
      .def_readonly("input_size", &Packed::I);
  m.def(function, &pack_layer<T, Weights>, py::arg("w_ih").noconvert(),
        py::arg("w_hh").noconvert(), py::arg("gates"),
        "Pack one layer's weights once, for forward(..., packed=...).");
}

template <class Cell>
void register_cell(py::module_& m, const std::string& name) {
  register_cell_dtype<Cell, float>(m, name);
  register_cell_dtype<Cell, double>(m, name);
}

}  // namespace

void register_layers(py::module_& m) {
  register_packed_layer<float>(m, "PackedLayerFloat32", "pack_layer");
  register_packed_layer<double>(m, "PackedLayerFloat64", "pack_layer");
  register_packed_layer<float, BFloat16Weights>(m, "PackedLayerBFloat16", "pack_layer_bfloat16");
  register_packed_layer<float, Int8Weights>(m, "PackedLayerInt8", "pack_layer_int8");
  register_cell<RnnTanhCell>(m, "rnn_tanh");
  register_cell<RnnReluCell>(m, "rnn_relu");
  register_cell<LstmCell>(m, "lstm");
  register_cell<GruCell>(m, "gru");
}

}  // namespace rnnfast::bindings
