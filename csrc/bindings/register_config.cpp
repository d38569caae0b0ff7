// Runtime configuration: what BLAS kernel and threading this build actually uses.
#include "../core/bandwidth.h"
#include "../core/blas.h"
#include "../core/int8_gemm.h"
#include "../core/parallel.h"
#include "../core/step_split.h"
#include "../core/workspace.h"
#include "checks.h"
#include "pooled_array.h"

namespace rnnfast::bindings {

void register_config(py::module_& m) {
  m.def("blas_corename", &blas::corename, "CPU kernel OpenBLAS selected at load time.");
  m.def("blas_config", &blas::config, "OpenBLAS build configuration.");
  m.def("blas_num_threads", &blas::num_threads, "Threads OpenBLAS uses per call.");
  m.def("openmp_enabled", &openmp_enabled, "Whether the extension was built with OpenMP.");
  m.def("openmp_max_threads", &openmp_max_threads, "Threads of the pointwise passes.");
  m.def("set_openmp_num_threads", &set_openmp_threads, py::arg("n"));
  m.def(
      "set_step_split",
      [](int split) {
        if (split < 0 || split > 2) throw py::value_error("split must be 0, 1 or 2");
        step_split_override().store(split);
      },
      py::arg("split"), "Force how layers split their time loop: 0 auto, 1 rows, 2 columns.");
  m.def(
      "choose_step_split",
      [](int B, int H, size_t w_hh_bytes, bool training) {
        return int(choose_step_split(B, H, w_hh_bytes, training));
      },
      py::arg("batch"), py::arg("hidden"), py::arg("w_hh_bytes"), py::arg("training"),
      "The split a layer call would take: 1 rows, 2 columns.");
  m.def(
      "column_split_bytes", [] { return column_split_bytes(); },
      "W_hh bytes above which inference at batches 5-16 splits by columns (max: never).");
  m.def(
      "read_bandwidth",
      [](int64_t bytes, int threads, int passes) {
        if (bytes < 1 || threads < 1 || passes < 1)
          throw py::value_error("bytes, threads and passes must be positive");
        py::gil_scoped_release release;
        return read_bandwidth(bytes, threads, passes);
      },
      py::arg("bytes"), py::arg("threads"), py::arg("passes") = 50,
      "Bytes per second the threads together read a buffer of `bytes` again and again.");
  m.def(
      "release_workspaces", [] { return WorkspacePool::instance().release_all(); },
      "Free the buffers kept across calls; returns the bytes given back.");
  m.attr("pooled_array_min_bytes") = kPooledArrayMinBytes;
  m.def("pooled_empty_float32", &pooled_array<float>, py::arg("shape"),
        "An uninitialised float32 array whose memory the pool gives and takes back.");
  m.def("pooled_empty_float64", &pooled_array<double>, py::arg("shape"),
        "An uninitialised float64 array whose memory the pool gives and takes back.");
  m.def(
      "cached_workspace_bytes", [] { return WorkspacePool::instance().cached_bytes(); },
      "Bytes of the buffers kept across calls, not in use now.");
  m.attr("int8_kernel") = int8_kernel();
  m.attr("bfloat16_kernel") = bfloat16_kernel();
  m.attr("vector_bytes") = kVectorBytes;
  m.def("step_split", [] { return step_split_override().load(); }, "The forced split (0: auto).");
}

}  // namespace rnnfast::bindings
