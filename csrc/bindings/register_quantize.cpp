// The reduced-precision forms of a weight matrix, as the kernels hold them, for the exporters
// (rnnfast.onnx writes them into the model file): the same functions the packers call, so an
// exported int8 or bfloat16 model carries exactly the numbers rnnfast multiplies.
#include "../core/bfloat16.h"
#include "../core/int8_gemm.h"
#include "checks.h"

namespace rnnfast::bindings {

void register_quantize(py::module_& m) {
  m.def(
      "quantize_rows_int8",
      [](const Array<float>& w) {
        if (w.ndim() != 2) throw py::value_error("w must be 2-D [rows, inputs]");
        require_quantizable({&w}, Int8Weights::kMaxK);
        const py::ssize_t rows = w.shape(0), cols = w.shape(1);
        Array<int8_t> q({rows, cols});
        Array<float> scales({rows});
        for (py::ssize_t r = 0; r < rows; ++r)
          scales.mutable_data()[r] =
              quantize_weight_row(w.data() + r * cols, int(cols), q.mutable_data() + r * cols);
        return py::make_tuple(q, scales);
      },
      py::arg("w").noconvert(),
      "(q int8 [rows, inputs], scale float32 [rows]): w ~= q * scale[:, None], as "
      "freeze(precision='int8') quantizes each row of a weight matrix.");
  m.def(
      "bfloat16_bits",
      [](const Array<float>& w) {
        require_quantizable({&w}, Int8Weights::kMaxK);
        std::vector<py::ssize_t> shape(w.shape(), w.shape() + w.ndim());
        Array<uint16_t> bits(shape);
        for (py::ssize_t k = 0; k < w.size(); ++k)
          bits.mutable_data()[k] = to_bfloat16(w.data()[k]).bits;
        return bits;
      },
      py::arg("w").noconvert(),
      "The bfloat16 bit patterns (uint16) of w, rounded to nearest even as "
      "freeze(precision='bfloat16') rounds weights.");
}

}  // namespace rnnfast::bindings
