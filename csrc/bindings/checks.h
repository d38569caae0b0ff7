// Argument checks shared by the bindings. The Python layer validates user input with friendly
// messages; these checks are the last line that keeps a wrong call from touching bad memory.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>  // std::optional arguments (None allowed)

#include <climits>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>

namespace rnnfast::bindings {

namespace py = pybind11;

// C-contiguous array of exactly T; bound with .noconvert() so a mismatch is a TypeError
// instead of a silent copy (a copy of an output argument would drop the results).
template <typename T>
using Array = py::array_t<T, py::array::c_style>;

template <typename A>
void require_shape(const A& a, std::initializer_list<py::ssize_t> shape, const char* name) {
  bool ok = a.ndim() == py::ssize_t(shape.size());
  int k = 0;
  for (py::ssize_t s : shape) ok = ok && a.shape(k++) == s;
  if (ok) return;
  std::ostringstream msg;
  msg << name << " must have shape (";
  k = 0;
  for (py::ssize_t s : shape) msg << (k++ ? ", " : "") << s;
  msg << "), got (";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) msg << (i ? ", " : "") << a.shape(i);
  msg << ")";
  throw py::value_error(msg.str());
}

template <typename A>
void require_writeable(const A& a, const char* name) {
  if (!a.writeable()) throw py::value_error(std::string(name) + " must be writeable");
}

// OpenBLAS here takes 32-bit sizes: every matrix dimension handed to it must fit.
inline void require_int32(int64_t value, const char* what) {
  if (value > INT_MAX)
    throw py::value_error(std::string(what) + " is too large for 32-bit BLAS indexing");
}

// Weights about to be stored in bfloat16 or int8: finite (rounding a NaN or an infinity has
// no meaning, and converting one to int8 is undefined behaviour) and rows the int32 sums of
// int8_gemm.h hold.
template <typename A>
void require_quantizable(std::initializer_list<const A*> weights, int64_t max_row) {
  for (const A* a : weights) {
    for (py::ssize_t k = 0; k < a->size(); ++k)
      if (!std::isfinite(a->data()[k]))
        throw py::value_error("weights to quantize contain NaN or infinity");
    if (a->ndim() == 2 && a->shape(1) > max_row)
      throw py::value_error("reduced precision: at most " + std::to_string(max_row) +
                            " inputs and hidden units per layer");
  }
}

}  // namespace rnnfast::bindings
