// Runtime configuration: what BLAS kernel and threading this build actually uses.
#include "../core/blas.h"
#include "../core/parallel.h"
#include "checks.h"

namespace rnnfast::bindings {

void register_config(py::module_& m) {
  m.def("blas_corename", &blas::corename, "CPU kernel OpenBLAS selected at load time.");
  m.def("blas_config", &blas::config, "OpenBLAS build configuration.");
  m.def("blas_num_threads", &blas::num_threads, "Threads OpenBLAS uses per call.");
  m.def("openmp_enabled", &openmp_enabled, "Whether the extension was built with OpenMP.");
  m.def("openmp_max_threads", &openmp_max_threads, "Threads of the pointwise passes.");
  m.def("set_openmp_num_threads", &set_openmp_threads, py::arg("n"));
}

}  // namespace rnnfast::bindings
