// Bindings of core/ctc.h (loss and gradient) and core/ctc_decode.h (prefix beam search).
// rnnfast.nn.losses.ctc_loss and rnnfast.nn.ctc_decode validate user input with friendly
// messages; these checks only keep a wrong call from reading or writing out of bounds.
#include <string>
#include <vector>

#include "../core/ctc.h"
#include "../core/ctc_decode.h"
#include "checks.h"

namespace rnnfast::bindings {
namespace {

using IndexArray = py::array_t<int64_t, py::array::c_style>;

struct BatchShape {
  int64_t N, Tmax, C;
};

template <typename T>
BatchShape checked_batch(const Array<T>& x, const IndexArray& input_lengths, int64_t blank,
                         const char* name) {
  if (x.ndim() != 3) throw py::value_error(std::string(name) + " must be 3-D (batch, time, classes)");
  const BatchShape b{x.shape(0), x.shape(1), x.shape(2)};
  if (b.C < 1) throw py::value_error(std::string(name) + " must have at least one class");
  if (blank < 0 || blank >= b.C) throw py::value_error("blank must be in [0, classes)");
  require_shape(input_lengths, {b.N}, "input_lengths");
  for (int64_t n = 0; n < b.N; ++n)
    if (input_lengths.data()[n] < 1 || input_lengths.data()[n] > b.Tmax)
      throw py::value_error("input_lengths must be in [1, time]");
  return b;
}

template <typename T>
py::tuple loss(const Array<T>& logits, const IndexArray& labels, const IndexArray& offsets,
               const IndexArray& input_lengths, int64_t blank, bool zero_infinity) {
  const BatchShape b = checked_batch(logits, input_lengths, blank, "logits");
  require_shape(offsets, {b.N + 1}, "offsets");
  if (labels.ndim() != 1) throw py::value_error("labels must be 1-D");
  const int64_t* off = offsets.data();
  if (off[0] != 0 || off[b.N] != labels.shape(0))
    throw py::value_error("offsets must start at 0 and end at len(labels)");
  for (int64_t n = 0; n < b.N; ++n)
    if (off[n + 1] < off[n]) throw py::value_error("offsets must be non-decreasing");
  for (py::ssize_t k = 0; k < labels.shape(0); ++k)
    if (labels.data()[k] < 0 || labels.data()[k] >= b.C || labels.data()[k] == blank)
      throw py::value_error("labels must be in [0, classes) and differ from blank");

  Array<T> nll({b.N});
  Array<T> grad({b.N, b.Tmax, b.C});
  {
    py::gil_scoped_release release;  // pure C++ on buffers we hold references to
    ctc::batch_loss(logits.data(), b.N, b.Tmax, b.C, labels.data(), off, input_lengths.data(),
                    blank, zero_infinity, nll.mutable_data(), grad.mutable_data());
  }
  return py::make_tuple(nll, grad);
}

template <typename T>
py::tuple beam_search(const Array<T>& log_probs, const IndexArray& input_lengths, int64_t beam,
                      int64_t blank) {
  const BatchShape b = checked_batch(log_probs, input_lengths, blank, "log_probs");
  if (beam < 1) throw py::value_error("beam_size must be at least 1");
  std::vector<std::vector<int64_t>> decoded;
  Array<T> scores({b.N});
  {
    py::gil_scoped_release release;  // pure C++ on buffers we hold references to
    ctc::batch_beam_search(log_probs.data(), b.N, b.Tmax, b.C, input_lengths.data(), beam, blank,
                           decoded, scores.mutable_data());
  }
  py::list out;
  for (const auto& labels : decoded) {
    IndexArray a(py::ssize_t(labels.size()));
    std::copy(labels.begin(), labels.end(), a.mutable_data());
    out.append(a);
  }
  return py::make_tuple(out, scores);
}

template <typename T>
void register_dtype(py::module_& m) {
  m.def("ctc_loss", &loss<T>, py::arg("logits").noconvert(), py::arg("labels").noconvert(),
        py::arg("offsets").noconvert(), py::arg("input_lengths").noconvert(), py::arg("blank"),
        py::arg("zero_infinity"),
        "Per-sample CTC negative log-likelihoods (N,) and their gradients w.r.t. the logits "
        "(N, T, C); sample n's labels are labels[offsets[n]:offsets[n + 1]].");
  m.def("ctc_beam_search", &beam_search<T>, py::arg("log_probs").noconvert(),
        py::arg("input_lengths").noconvert(), py::arg("beam_size"), py::arg("blank"),
        "Prefix beam search per sample: (list of label arrays, log-probabilities (N,)).");
}

}  // namespace

void register_ctc(py::module_& m) {
  register_dtype<float>(m);
  register_dtype<double>(m);
}

}  // namespace rnnfast::bindings
