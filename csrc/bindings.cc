// The only pybind11 file: argument checks, GIL release, the monitor loop and
// error translation. Everything below it is plain C++ that never sees Python.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <optional>
#include <thread>

#include "common.h"
#include "corpus/tokenizer.h"
#include "cpu/train.h"
#include "cuda/backend.h"
#include "sgns.h"
#include "simd.h"

namespace py = pybind11;
using namespace mtl;

namespace {

// Matrices the kernel writes must be float32, C-contiguous and writeable: a
// converted copy would be trained and thrown away, so reject, never convert.
Matrix writable_matrix(const py::array& a, const char* name) {
  MTL_CHECK(py::isinstance<py::array_t<float>>(a) && a.dtype().is(py::dtype::of<float>()), name,
            " must be a float32 array, got ", std::string(py::str(a.dtype())));
  MTL_CHECK(a.ndim() == 2, name, " must be 2-dimensional, got ", a.ndim(), " dimensions");
  MTL_CHECK(a.flags() & py::array::c_style, name, " must be C-contiguous");
  MTL_CHECK(a.writeable(), name, " must be writeable");
  return Matrix{static_cast<float*>(const_cast<void*>(a.data())), a.shape(0), a.shape(1)};
}

// Read-only 1-d arrays of an exact dtype (a silent conversion would hide a bug upstream).
template <class T>
const T* vector_of(const py::array& a, const char* name, int64_t* size = nullptr) {
  MTL_CHECK(a.dtype().is(py::dtype::of<T>()), name, " must have dtype ", std::string(py::str(py::dtype::of<T>())),
            ", got ", std::string(py::str(a.dtype())));
  MTL_CHECK(a.ndim() == 1 && (a.flags() & py::array::c_style), name, " must be a contiguous 1-d array");
  if (size) *size = a.shape(0);
  return static_cast<const T*>(a.data());
}

// A 1-d float64 array the kernel fills (checked like vector_of, and writeable).
double* writable_doubles(const py::array& a, const char* name, int64_t* size) {
  vector_of<double>(a, name, size);
  MTL_CHECK(a.writeable(), name, " must be writeable");
  return static_cast<double*>(const_cast<void*>(a.data()));
}

Model parse_model(const std::string& model) {
  if (model == "sg") return Model::SkipGram;
  if (model == "cbow") return Model::Cbow;
  throw InvalidArgument(concat("model must be 'sg' or 'cbow', got '", model, "'"));
}

// Vose's alias method: O(n) build, O(1) draws, exact distribution.
py::tuple alias_table(const py::array& weights_array) {
  int64_t n = 0;
  const double* weights = vector_of<double>(weights_array, "weights", &n);
  MTL_CHECK(n >= 1, "alias table needs at least one weight");
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    MTL_CHECK(weights[i] >= 0, "alias weights must be >= 0");
    total += weights[i];
  }
  MTL_CHECK(total > 0, "alias weights sum to zero");
  py::array_t<float> prob_array(n);
  py::array_t<int32_t> alias_array(n);
  float* prob = prob_array.mutable_data();
  int32_t* alias = alias_array.mutable_data();
  std::vector<double> scaled(n);
  std::vector<int64_t> small, large;
  for (int64_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] * n / total;
    (scaled[i] < 1.0 ? small : large).push_back(i);
  }
  while (!small.empty() && !large.empty()) {
    const int64_t s = small.back(), l = large.back();
    small.pop_back();
    prob[s] = static_cast<float>(scaled[s]);
    alias[s] = static_cast<int32_t>(l);
    scaled[l] -= 1.0 - scaled[s];
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  for (int64_t i : small) prob[i] = 1.0f, alias[i] = static_cast<int32_t>(i);
  for (int64_t i : large) prob[i] = 1.0f, alias[i] = static_cast<int32_t>(i);
  return py::make_tuple(prob_array, alias_array);
}

// One step, for the tests: a CPU level or "cuda". For CBOW, `context_ends`
// (optional) splits the contexts among several centers sharing the negatives:
// the first len(context_ends) targets are the centers' words.
double step(const std::string& model, const py::array& w_in, const py::array& w_out, const py::array& contexts,
            const py::array& targets, float lr, const std::string& backend, const py::object& context_ends) {
  const Matrix in = writable_matrix(w_in, "w_in"), out = writable_matrix(w_out, "w_out");
  MTL_CHECK(in.rows == out.rows && in.cols == out.cols, "w_in and w_out must have the same shape");
  int64_t n_contexts = 0, n_targets = 0;
  const int32_t* ctx = vector_of<int32_t>(contexts, "contexts", &n_contexts);
  const int32_t* tgt = vector_of<int32_t>(targets, "targets", &n_targets);
  MTL_CHECK(n_contexts >= 1, "at least one context");
  MTL_CHECK(n_targets >= 1 && n_targets <= 64, "1..64 targets");
  for (int64_t i = 0; i < n_contexts; ++i) MTL_CHECK(ctx[i] >= 0 && ctx[i] < in.rows, "context id out of range");
  for (int64_t i = 0; i < n_targets; ++i) MTL_CHECK(tgt[i] >= 0 && tgt[i] < in.rows, "target id out of range");
  std::vector<int> ends{int(n_contexts)};
  if (!context_ends.is_none()) ends = context_ends.cast<std::vector<int>>();
  MTL_CHECK(!ends.empty() && int64_t(ends.size()) <= kMaxCbowShare && int64_t(ends.size()) <= n_targets,
            "1..", kMaxCbowShare, " centers, each with its target");
  for (size_t i = 0; i < ends.size(); ++i)
    MTL_CHECK(ends[i] - (i ? ends[i - 1] : 0) >= 1 && ends[i] - (i ? ends[i - 1] : 0) <= 128,
              "each center needs 1..128 contexts");
  MTL_CHECK(ends.back() == n_contexts, "context_ends must end at the number of contexts");
  const Model m = parse_model(model);
  MTL_CHECK(ends.size() == 1 || m == Model::Cbow, "only CBOW shares negatives across centers");
  if (backend == "cuda") {
    MTL_CHECK(ends.size() == 1, "the CUDA step takes one center");
    return cuda::step(m, in, out, ctx, int(n_contexts), tgt, int(n_targets), lr);
  }
  MTL_CHECK(in.cols % cpu::kRowBlock == 0, "the CPU kernel needs rows padded to a multiple of ", cpu::kRowBlock,
            " floats, got ", in.cols);
  const cpu::Ops& ops = simd_ops(backend);
  std::vector<float> scratch(cpu::scratch_floats(int(n_contexts), int(n_targets), int(in.cols)));
  std::vector<float*> in_rows(n_contexts), out_rows(n_targets);
  for (int64_t i = 0; i < n_contexts; ++i) in_rows[i] = in.row(ctx[i]);
  for (int64_t i = 0; i < n_targets; ++i) out_rows[i] = out.row(tgt[i]);
  py::gil_scoped_release release;
  if (m == Model::SkipGram)
    return ops.skipgram(in_rows.data(), int(n_contexts), out_rows.data(), int(n_targets), in.cols, lr, scratch.data());
  return ops.cbow(in_rows.data(), ends.data(), int(ends.size()), out_rows.data(), int(n_targets), in.cols, lr,
                  scratch.data());
}

// Offsets of a CSR layout: from 0, never decreasing, ending at the item count.
void check_offsets(const int64_t* offsets, int64_t n_offsets, int64_t n_items) {
  MTL_CHECK(n_offsets >= 1 && offsets[0] == 0 && offsets[n_offsets - 1] == n_items,
            "offsets must run from 0 to the number of items");
  for (int64_t i = 1; i < n_offsets; ++i) MTL_CHECK(offsets[i - 1] <= offsets[i], "offsets must not decrease");
}

py::dict stats_dict(const Control& control, double seconds) {
  py::dict d;
  d["words"] = control.words_done.load();
  d["chunks"] = control.chunks_done.load();
  d["pairs"] = control.pairs.load();
  d["loss"] = control.loss.load();
  d["seconds"] = seconds;
  return d;
}

// Trains on the calling thread's behalf with the GIL released. Every
// `interval` seconds the caller briefly takes the GIL to check for Ctrl-C and
// to report progress; a KeyboardInterrupt (or any exception from a signal
// handler or the callback) stops the workers after their current chunk and
// is returned as stats["interrupted"] (None when the run completed).
py::dict train(const std::string& model, int dim, int window, int negative, float alpha, float min_alpha,
               uint64_t seed, int threads, const std::string& backend, const py::array& w_in, const py::list& w_out,
               const py::array& keep_prob, const py::list& noise, const py::list& tasks, const py::dict& chunks,
               const py::object& progress, double interval, const py::object& chunk_stats, int cbow_share,
               bool copy_hot_rows) {
  TrainParams params;
  params.model = parse_model(model);
  params.dim = dim;
  params.window = window;
  params.negative = negative;
  params.alpha = alpha;
  params.min_alpha = min_alpha;
  params.seed = seed;
  params.threads = threads;
  params.cbow_share = cbow_share;
  params.copy_hot_rows = copy_hot_rows;

  TrainJob job;
  job.w_in = writable_matrix(w_in, "w_in");
  for (const auto& head : w_out) job.w_out.push_back(writable_matrix(head.cast<py::array>(), "w_out"));
  int64_t n_keep = 0;
  job.keep_prob = vector_of<float>(keep_prob, "keep_prob", &n_keep);
  MTL_CHECK(n_keep == job.w_in.rows, "keep_prob must have one entry per vocabulary row");
  for (const auto& item : noise) {
    const auto t = item.cast<py::tuple>();
    NoiseTable table;
    int64_t n_alias = 0;
    table.prob = vector_of<float>(t[0].cast<py::array>(), "noise prob", &table.size);
    table.alias = vector_of<int32_t>(t[1].cast<py::array>(), "noise alias", &n_alias);
    table.first_id = t[2].cast<int32_t>();
    MTL_CHECK(n_alias == table.size, "noise prob and alias differ in length");
    for (int64_t i = 0; i < table.size; ++i)
      MTL_CHECK(table.alias[i] >= 0 && table.alias[i] < table.size, "noise alias out of range");
    job.noise.push_back(table);
  }
  for (const auto& item : tasks) {
    const auto t = item.cast<py::dict>();
    Task task;
    int64_t n_tokens = 0, n_offsets = 0;
    task.tokens = vector_of<int32_t>(t["tokens"].cast<py::array>(), "tokens", &n_tokens);
    task.sentence_offsets = vector_of<int64_t>(t["offsets"].cast<py::array>(), "offsets", &n_offsets);
    check_offsets(task.sentence_offsets, n_offsets, n_tokens);
    task.n_sentences = n_offsets - 1;
    task.noise = t["noise"].cast<int32_t>();
    task.head = t["head"].cast<int32_t>();
    task.weight = t["weight"].cast<float>();
    if (t.contains("codeswitch")) {
      task.codeswitch = t["codeswitch"].cast<float>();
      int64_t n_rows = 0, n_ids = 0;
      task.translations.offsets =
          vector_of<int64_t>(t["translation_offsets"].cast<py::array>(), "translation_offsets", &n_rows);
      task.translations.ids = vector_of<int32_t>(t["translation_ids"].cast<py::array>(), "translation_ids", &n_ids);
      MTL_CHECK(n_rows == job.w_in.rows + 1, "translation_offsets needs one entry per vocabulary row, plus one");
      check_offsets(task.translations.offsets, n_rows, n_ids);
    }
    if (t.contains("second_tokens")) {
      int64_t n_second = 0, n_second_offsets = 0;
      task.second_tokens = vector_of<int32_t>(t["second_tokens"].cast<py::array>(), "second_tokens", &n_second);
      task.second_offsets =
          vector_of<int64_t>(t["second_offsets"].cast<py::array>(), "second_offsets", &n_second_offsets);
      check_offsets(task.second_offsets, n_second_offsets, n_second);
      MTL_CHECK(n_second_offsets == n_offsets, "the two sides of a parallel task need the same number of sentences");
      task.second_noise = t["second_noise"].cast<int32_t>();
    }
    job.tasks.push_back(task);
  }
  if (backend == "cuda")
    for (const Task& task : job.tasks)
      MTL_CHECK(!task.parallel() && task.codeswitch == 0,
                "parallel tasks and code-switching are not implemented on CUDA yet; use device='cpu'");
  int64_t n_chunks = 0, n;
  const int32_t* task_of = vector_of<int32_t>(chunks["task"].cast<py::array>(), "chunks.task", &n_chunks);
  const int64_t* begin = vector_of<int64_t>(chunks["sentence_begin"].cast<py::array>(), "chunks.sentence_begin", &n);
  MTL_CHECK(n == n_chunks, "chunk arrays differ in length");
  const int64_t* end = vector_of<int64_t>(chunks["sentence_end"].cast<py::array>(), "chunks.sentence_end", &n);
  MTL_CHECK(n == n_chunks, "chunk arrays differ in length");
  const double* p0 = vector_of<double>(chunks["progress_begin"].cast<py::array>(), "chunks.progress_begin", &n);
  MTL_CHECK(n == n_chunks, "chunk arrays differ in length");
  const double* p1 = vector_of<double>(chunks["progress_end"].cast<py::array>(), "chunks.progress_end", &n);
  MTL_CHECK(n == n_chunks, "chunk arrays differ in length");
  const uint64_t* ids = vector_of<uint64_t>(chunks["id"].cast<py::array>(), "chunks.id", &n);
  MTL_CHECK(n == n_chunks, "chunk arrays differ in length");
  for (int64_t c = 0; c < n_chunks; ++c) job.chunks.push_back(Chunk{task_of[c], begin[c], end[c], p0[c], p1[c], ids[c]});

  const bool on_cuda = backend == "cuda";
  const cpu::Ops* ops = on_cuda ? nullptr : &simd_ops(backend);
  Control control;
  if (!chunk_stats.is_none()) {
    int64_t n_stats = 0;
    control.chunk_stats = writable_doubles(chunk_stats.cast<py::array>(), "chunk_stats", &n_stats);
    MTL_CHECK(n_stats == 2 * n_chunks, "chunk_stats needs 2 entries (loss, pairs) per chunk");
  }
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool finished = false;
  std::optional<py::error_already_set> python_error;
  const auto start = std::chrono::steady_clock::now();
  {
    py::gil_scoped_release release;
    std::thread runner([&] {
      try {
        if (on_cuda)
          cuda::train(params, job, control);
        else
          cpu::train(params, job, control, *ops);
      } catch (...) {
        control.fail(std::current_exception());
      }
      std::lock_guard<std::mutex> lock(mutex);
      finished = true;
      finished_cv.notify_all();
    });
    const auto period = std::chrono::duration<double>(interval > 0 ? interval : 0.1);
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        if (finished_cv.wait_for(lock, period, [&] { return finished; })) break;
      }
      if (control.stop.load()) continue;  // stopping: just wait for the workers
      py::gil_scoped_acquire acquire;
      try {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        if (!progress.is_none())
          progress(control.words_done.load(), control.chunks_done.load(), control.loss.load(), control.pairs.load());
      } catch (py::error_already_set& error) {
        python_error.emplace(std::move(error));
        control.stop.store(true);
      }
    }
    runner.join();
  }
  control.rethrow_if_failed();
  py::dict stats = stats_dict(control, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  // Ctrl-C, SIGTERM or a failing callback: the caller gets the exception with
  // the stats of the finished chunks, so it can checkpoint before re-raising.
  stats["interrupted"] = python_error ? python_error->value() : py::none();
  return stats;
}

py::dict info() {
  py::dict d;
  d["version"] = MTLEMBED_VERSION;
  d["simd"] = simd_default();
  d["simd_available"] = simd_available();
  d["cuda_compiled"] = cuda::compiled();
  d["cuda_devices"] = cuda::device_names();
  return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "mtlembed's compiled kernels (private: use the mtlembed package)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const Cancelled& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    }
  });

  m.def("info", &info, "Version, SIMD levels and CUDA devices.");
  m.def("simd_available", &simd_available);
  m.def("alias_table", &alias_table, py::arg("weights"), "Vose alias table (prob float32, alias int32).");
  m.def("step", &step, py::arg("model"), py::arg("w_in"), py::arg("w_out"), py::arg("contexts"), py::arg("targets"),
        py::arg("lr"), py::arg("backend"), py::arg("context_ends") = py::none(),
        "One step; targets[0] is the positive (CBOW with context_ends: one target per center first).");
  m.def("train", &train, py::arg("model"), py::arg("dim"), py::arg("window"), py::arg("negative"), py::arg("alpha"),
        py::arg("min_alpha"), py::arg("seed"), py::arg("threads"), py::arg("backend"), py::arg("w_in"),
        py::arg("w_out"), py::arg("keep_prob"), py::arg("noise"), py::arg("tasks"), py::arg("chunks"),
        py::arg("progress") = py::none(), py::arg("interval") = 0.1, py::arg("chunk_stats") = py::none(),
        py::arg("cbow_share") = 1, py::arg("copy_hot_rows") = true);

  py::class_<corpus::Counter>(m, "Counter", "Distinct tokens of one language with their counts.")
      .def(py::init<int64_t>(), py::arg("max_distinct"))
      .def("__len__", &corpus::Counter::size)
      .def("words", [](const corpus::Counter& c) {
        // One bytes blob and arrays: the vocabulary crosses into Python in O(1) objects.
        const corpus::Counter::Words w = c.words();
        return py::make_tuple(py::bytes(w.text), py::array_t<int64_t>(w.ends.size(), w.ends.data()),
                              py::array_t<int64_t>(w.counts.size(), w.counts.data()),
                              py::array_t<int32_t>(w.ids.size(), w.ids.data()));
      }, "(text blob, end offsets, counts, provisional ids) of the tokens held, in first-seen order")
      .def_property_readonly("issued", &corpus::Counter::issued,
                             "provisional ids handed out, dropped ones included")
      .def_property_readonly("prunings", &corpus::Counter::prunings)
      .def_property_readonly("dropped", &corpus::Counter::dropped, "tokens dropped by all prunings")
      .def_property_readonly("threshold", &corpus::Counter::threshold,
                             "the last pruning dropped counts <= this");

  py::class_<corpus::Stream>(m, "Stream", "The sentences of one task being tokenized (provisional ids).")
      .def(py::init<int64_t, bool>(), py::arg("max_sentence"), py::arg("keep_empty") = false)
      .def("end_sentence", &corpus::Stream::end_sentence)
      // The finished sentences as (ids, sentence ends counted from the first id), removed from the
      // stream; the unfinished one stays. Reading takes them out block by block, so no vector
      // ever holds a whole corpus (doubling one to grow would briefly hold it twice).
      .def("take_sentences", [](corpus::Stream& s) {
        const int64_t done = s.offsets.back();
        py::array_t<int32_t> tokens(done, s.tokens.data());
        py::array_t<int64_t> ends(static_cast<py::ssize_t>(s.offsets.size() - 1), s.offsets.data() + 1);
        s.tokens.erase(s.tokens.begin(), s.tokens.begin() + done);
        s.offsets.assign(1, 0);
        return py::make_tuple(tokens, ends);
      });

  py::class_<corpus::CaseMap>(m, "CaseMap", "Lowercase forms beyond ASCII (mtlembed.corpus.case_map builds it).")
      .def(py::init<const std::vector<uint32_t>&, const std::string&, const std::vector<int64_t>&,
                    const std::vector<uint32_t>&>(),
           py::arg("code_points"), py::arg("lowered"), py::arg("ends"), py::arg("contextual"));

  m.def("tokenize", [](const py::bytes& block, corpus::Counter& counter, corpus::Stream& stream, int threads,
                       const corpus::CaseMap* lower) -> py::object {
    MTL_CHECK(threads >= 1, "threads must be >= 1");
    char* data = nullptr;
    Py_ssize_t size = 0;
    PyBytes_AsStringAndSize(block.ptr(), &data, &size);
    corpus::Tokenized done;
    {
      py::gil_scoped_release release;
      done = corpus::tokenize(data, static_cast<size_t>(size), counter, stream, threads, lower);
    }
    if (done.refused) return py::none();
    return py::make_tuple(done.tokens, done.newlines);
  }, py::arg("block"), py::arg("counter"), py::arg("stream"), py::arg("threads") = 1, py::arg("lower") = nullptr,
        "Splits a block of UTF-8 (ending at whitespace) into tokens, lowercased through `lower` if given; "
        "'\\n' ends a sentence. Returns (tokens, newlines), or None, counting nothing, if the block holds "
        "invalid UTF-8 or a character `lower` cannot lowercase alone. Threads change the speed only.");

  m.def("remap", [](const py::array& tokens, const py::array& ends, const py::array& mapping, bool keep_empty) {
    int64_t token_count = 0, sentence_count = 0, mapping_size = 0;
    const int32_t* token_data = vector_of<int32_t>(tokens, "tokens", &token_count);
    const int64_t* end_data = vector_of<int64_t>(ends, "ends", &sentence_count);
    const int32_t* mapping_data = vector_of<int32_t>(mapping, "mapping", &mapping_size);
    py::array_t<int32_t> ids(token_count);
    py::array_t<int64_t> new_ends(sentence_count);
    int32_t* id_data = ids.mutable_data();
    int64_t* new_end_data = new_ends.mutable_data();
    corpus::Remapped done;
    {
      py::gil_scoped_release release;
      done = corpus::remap(token_data, token_count, end_data, sentence_count, mapping_data, mapping_size, keep_empty,
                           id_data, new_end_data);
    }
    return py::make_tuple(ids[py::slice(0, done.tokens, 1)], new_ends[py::slice(0, done.sentences, 1)]);
  }, py::arg("tokens"), py::arg("ends"), py::arg("mapping"), py::arg("keep_empty"),
        "Provisional ids of whole sentences to final ids (-1 drops); empty sentences go unless keep_empty.");
}
