// Bindings of core/stream.h: a stream object per dtype, opened with one cell's weights.
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "../cells/gru_cell.h"
#include "../cells/lstm_cell.h"
#include "../cells/rnn_cell.h"
#include "../core/int8_gemm.h"
#include "../core/stream.h"
#include "checks.h"

namespace rnnfast::bindings {
namespace {

template <typename T>
class Stream {
 public:
  Stream(const std::string& cell, const std::vector<Array<T>>& w_ih,
         const std::vector<Array<T>>& w_hh, const std::vector<Array<T>>& b_ih,
         const std::vector<Array<T>>& b_hh, int batch, const std::string& precision)
      : L_(int(w_ih.size())), B_(batch) {
    if (L_ < 1 || w_hh.size() != w_ih.size() || b_ih.size() != w_ih.size() ||
        b_hh.size() != w_ih.size())
      throw py::value_error("one w_ih, w_hh, b_ih and b_hh per layer, at least one layer");
    if (batch < 1) throw py::value_error("batch must be at least 1");
    const int G = gates_of(cell);
    if (w_hh[0].ndim() != 2) throw py::value_error("w_hh must be 2-D");
    H_ = int(w_hh[0].shape(1));
    if (w_ih[0].ndim() != 2) throw py::value_error("w_ih must be 2-D");
    I_ = int(w_ih[0].shape(1));
    std::vector<StreamLayerWeights<T>> layers;
    for (int l = 0; l < L_; ++l) {
      const py::ssize_t GH = py::ssize_t(G) * H_, in = l == 0 ? I_ : H_;
      require_shape(w_ih[l], {GH, in}, "w_ih");
      require_shape(w_hh[l], {GH, H_}, "w_hh");
      require_shape(b_ih[l], {GH}, "b_ih");
      require_shape(b_hh[l], {GH}, "b_hh");
      layers.push_back({w_ih[l].data(), w_hh[l].data(), b_ih[l].data(), b_hh[l].data(), int(in)});
    }
    if (precision == "float") {
      open<PackedWeights<T>>(cell, layers);
    } else if constexpr (std::is_same_v<T, float>) {
      for (int l = 0; l < L_; ++l) require_quantizable({&w_ih[l], &w_hh[l]}, Int8Weights::kMaxK);
      if (precision == "bfloat16") open<BFloat16Weights>(cell, layers);
      if (precision == "int8") open<Int8Weights>(cell, layers);
    }
    if (!runner_)
      throw py::value_error("precision must be 'float', or 'bfloat16' or 'int8' for float32");
    has_cell_state_ = cell == "lstm";
  }

  // x: [B, I]; returns the top layer's new hidden state [B, H]. NaN/inf input is refused
  // before it can reach (and poison) the carried state.
  Array<T> step(const Array<T>& x) {
    require_shape(x, {B_, I_}, "x");
    const T* data = x.data();
    for (py::ssize_t k = 0, n = py::ssize_t(B_) * I_; k < n; ++k)
      if (!std::isfinite(data[k])) throw py::value_error("x contains NaN or infinity");
    Array<T> y({B_, H_});
    runner_->step(data, y.mutable_data());
    return y;
  }

  py::tuple state() const {
    Array<T> h(state_shape());
    std::memcpy(h.mutable_data(), runner_->hidden_state(), sizeof(T) * state_size());
    if (!has_cell_state_) return py::make_tuple(h, py::none());
    Array<T> c(state_shape());
    std::memcpy(c.mutable_data(), runner_->cell_state(), sizeof(T) * state_size());
    return py::make_tuple(h, c);
  }

  void set_state(const Array<T>& h, const std::optional<Array<T>>& c) {
    require_shape(h, {L_, B_, H_}, "h");
    if (has_cell_state_ != bool(c))
      throw py::value_error(has_cell_state_ ? "c is required for this cell"
                                            : "c must be None for this cell");
    if (c) require_shape(*c, {L_, B_, H_}, "c");
    std::memcpy(runner_->hidden_state(), h.data(), sizeof(T) * state_size());
    if (c) std::memcpy(runner_->cell_state(), c->data(), sizeof(T) * state_size());
  }

 private:
  template <class Weights>
  void open(const std::string& cell, const std::vector<StreamLayerWeights<T>>& layers) {
    if (cell == "lstm") runner_ = make_step_runner<LstmCell, T, Weights>(layers, B_, H_);
    if (cell == "gru") runner_ = make_step_runner<GruCell, T, Weights>(layers, B_, H_);
    if (cell == "rnn_tanh") runner_ = make_step_runner<RnnTanhCell, T, Weights>(layers, B_, H_);
    if (cell == "rnn_relu") runner_ = make_step_runner<RnnReluCell, T, Weights>(layers, B_, H_);
  }

  static int gates_of(const std::string& cell) {
    if (cell == "lstm") return LstmCell::kGates;
    if (cell == "gru") return GruCell::kGates;
    if (cell == "rnn_tanh" || cell == "rnn_relu") return RnnTanhCell::kGates;
    throw py::value_error("unknown cell " + cell);
  }
  std::vector<py::ssize_t> state_shape() const { return {L_, B_, H_}; }
  size_t state_size() const { return size_t(L_) * B_ * H_; }

  int L_, B_, H_ = 0, I_ = 0;
  bool has_cell_state_ = false;
  std::unique_ptr<StepRunner<T>> runner_;
};

template <typename T>
void register_stream_dtype(py::module_& m, const char* name) {
  py::class_<Stream<T>>(m, name, "A unidirectional stack stepped one time step per call.")
      .def(py::init<const std::string&, const std::vector<Array<T>>&,
                    const std::vector<Array<T>>&, const std::vector<Array<T>>&,
                    const std::vector<Array<T>>&, int, const std::string&>(),
           py::arg("cell"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih"), py::arg("b_hh"),
           py::arg("batch"), py::arg("precision") = "float")
      .def("step", &Stream<T>::step, py::arg("x").noconvert())
      .def("state", &Stream<T>::state)
      .def("set_state", &Stream<T>::set_state, py::arg("h").noconvert(),
           py::arg("c").noconvert());
}

}  // namespace

void register_stream(py::module_& m) {
  register_stream_dtype<float>(m, "Stream32");
  register_stream_dtype<double>(m, "Stream64");
}

}  // namespace rnnfast::bindings
