// rnnfast._core_<level>: the private extension module, one per CPU level (CMakeLists.txt sets
// RNNFAST_MODULE_NAME and RNNFAST_CPU_LEVEL), loaded through rnnfast._dispatch.
#include <pybind11/pybind11.h>

#include "../core/blas.h"
#include "../core/interrupt.h"
#include "../core/parallel.h"

namespace rnnfast::bindings {
void register_layers(pybind11::module_& m);
void register_config(pybind11::module_& m);
void register_stream(pybind11::module_& m);
void register_ctc(pybind11::module_& m);
void register_quantize(pybind11::module_& m);

// Asked by the core's long loops every few hundred steps: runs Python's signal handlers, so a
// Ctrl-C becomes a KeyboardInterrupt (already set as the Python error when this says true).
bool python_stop_requested() {
  pybind11::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;
}
}  // namespace rnnfast::bindings

#ifndef RNNFAST_MODULE_NAME
#error "RNNFAST_MODULE_NAME (the extension's name, _core_<level>) is set by CMakeLists.txt"
#endif

PYBIND11_MODULE(RNNFAST_MODULE_NAME, m) {
  m.doc() = "rnnfast C++ kernels: recurrent layers (forward and BPTT) over whole sequences, CTC.";
  rnnfast::bindings::register_layers(m);
  rnnfast::bindings::register_config(m);
  rnnfast::bindings::register_stream(m);
  rnnfast::bindings::register_ctc(m);
  rnnfast::bindings::register_quantize(m);
  m.attr("cpu_level") = RNNFAST_CPU_LEVEL;  // the level these kernels were compiled for
  // OpenMP splits our work into blocks that each call BLAS; BLAS threads of its own would
  // compete with them for the same cores. This is our private OpenBLAS, not numpy's.
  rnnfast::blas::set_num_threads(1);
  rnnfast::install_fork_handler();
  rnnfast::stop_requested_hook().store(&rnnfast::bindings::python_stop_requested);
  pybind11::register_exception_translator([](std::exception_ptr raised) {
    try {
      if (raised) std::rethrow_exception(raised);
    } catch (const rnnfast::Interrupted&) {
      // the signal handler's exception (KeyboardInterrupt for Ctrl-C) is the Python error
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
  });
}
