// rnnfast._core: the private extension module, re-exported through rnnfast.backends.cpu.
#include <pybind11/pybind11.h>

#include "../core/blas.h"
#include "../core/parallel.h"

namespace rnnfast::bindings {
void register_layers(pybind11::module_& m);
void register_config(pybind11::module_& m);
void register_stream(pybind11::module_& m);
void register_ctc(pybind11::module_& m);
}  // namespace rnnfast::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "rnnfast C++ kernels: recurrent layers (forward and BPTT) over whole sequences, CTC.";
  rnnfast::bindings::register_layers(m);
  rnnfast::bindings::register_config(m);
  rnnfast::bindings::register_stream(m);
  rnnfast::bindings::register_ctc(m);
  // OpenMP splits our work into blocks that each call BLAS; BLAS threads of its own would
  // compete with them for the same cores. This is our private OpenBLAS, not numpy's.
  rnnfast::blas::set_num_threads(1);
  rnnfast::install_fork_handler();
}
