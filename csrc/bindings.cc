// The only pybind11 file: the typed job objects (which hold the arrays they
// point into), argument checks, GIL release, the monitor loop and error
// translation. Everything below it is plain C++ that never sees Python.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <optional>

#include "common.h"
#include "corpus/tokenizer.h"
#include "cpu/rows.h"
#include "cpu/train.h"
#include "cuda/backend.h"
#include "parallel.h"
#include "sgns.h"
#include "simd.h"

namespace py = pybind11;
using namespace mtl;

namespace {

// Arrays cross into C++ only as numpy arrays of the exact dtype, C-contiguous
// (and writeable where the kernel writes): a converted copy would be trained
// and thrown away, or freed while the kernel still points into it.
template <class T>
py::array exact_array(const py::handle& value, const char* name, int ndim, bool writeable = false) {
  const std::string dtype = py::str(py::dtype::of<T>());
  MTL_CHECK(py::isinstance<py::array>(value), name, " must be a numpy array of ", dtype, ", got ",
            Py_TYPE(value.ptr())->tp_name);
  const auto a = py::reinterpret_borrow<py::array>(value);
  MTL_CHECK(a.dtype().is(py::dtype::of<T>()), name, " must have dtype ", dtype, ", got ",
            std::string(py::str(a.dtype())));
  MTL_CHECK(a.ndim() == ndim, name, " must be ", ndim, "-dimensional, got ", a.ndim(), " dimensions");
  MTL_CHECK(a.flags() & py::array::c_style, name, " must be C-contiguous");
  MTL_CHECK(!writeable || a.writeable(), name, " must be writeable");
  return a;
}

Matrix writable_matrix(const py::handle& value, const char* name) {
  const py::array a = exact_array<float>(value, name, 2, true);
  return Matrix{static_cast<float*>(const_cast<void*>(a.data())), a.shape(0), a.shape(1)};
}

// A read-only 1-d array's data; `size` gets its length.
template <class T>
const T* vector_of(const py::handle& value, const char* name, int64_t* size = nullptr) {
  const py::array a = exact_array<T>(value, name, 1);
  if (size) *size = a.shape(0);
  return static_cast<const T*>(a.data());
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
void check_offsets(const int64_t* offsets, int64_t n_offsets, int64_t n_items, const char* name) {
  MTL_CHECK(n_offsets >= 1 && offsets[0] == 0 && offsets[n_offsets - 1] == n_items, name,
            " must run from 0 to the number of items");
  for (int64_t i = 1; i < n_offsets; ++i) MTL_CHECK(offsets[i - 1] <= offsets[i], name, " must not decrease");
}

// The bound types: the plain structs of sgns.h, each with the arrays its
// pointers point into, held so that nothing is freed under the kernel.
using Held = std::vector<py::object>;

struct BoundNoiseTable : NoiseTable {
  Held held;
  BoundNoiseTable(const py::object& prob_array, const py::object& alias_array, int32_t first) {
    int64_t n_alias = 0;
    prob = vector_of<float>(prob_array, "noise prob", &size);
    alias = vector_of<int32_t>(alias_array, "noise alias", &n_alias);
    first_id = first;
    MTL_CHECK(size >= 1 && n_alias == size, "noise prob and alias must have the same length, at least 1");
    for (int64_t i = 0; i < size; ++i) MTL_CHECK(alias[i] >= 0 && alias[i] < size, "noise alias out of range");
    held = {prob_array, alias_array};
  }
};

struct BoundTask : Task {
  Held held;
  int64_t translation_rows = 0;  // entries of translations.offsets

  BoundTask(const py::object& token_array, const py::object& offset_array, int32_t noise_index, int32_t head_index,
            float task_weight) {
    int64_t n_tokens = 0, n_offsets = 0;
    tokens = vector_of<int32_t>(token_array, "tokens", &n_tokens);
    sentence_offsets = vector_of<int64_t>(offset_array, "offsets", &n_offsets);
    check_offsets(sentence_offsets, n_offsets, n_tokens, "offsets");
    n_sentences = n_offsets - 1;
    noise = noise_index;
    head = head_index;
    weight = task_weight;
    held = {token_array, offset_array};
  }

  void set_translations(float probability, const py::object& offset_array, const py::object& id_array) {
    int64_t n_ids = 0;
    translations.offsets = vector_of<int64_t>(offset_array, "translation_offsets", &translation_rows);
    translations.ids = vector_of<int32_t>(id_array, "translation_ids", &n_ids);
    check_offsets(translations.offsets, translation_rows, n_ids, "translation_offsets");
    codeswitch = probability;
    held.insert(held.end(), {offset_array, id_array});
  }

  void set_second_side(const py::object& token_array, const py::object& offset_array, int32_t noise_index) {
    int64_t n_tokens = 0, n_offsets = 0;
    second_tokens = vector_of<int32_t>(token_array, "second_tokens", &n_tokens);
    second_offsets = vector_of<int64_t>(offset_array, "second_offsets", &n_offsets);
    check_offsets(second_offsets, n_offsets, n_tokens, "second_offsets");
    MTL_CHECK(n_offsets == n_sentences + 1, "the two sides of a parallel task need the same number of sentences");
    second_noise = noise_index;
    held.insert(held.end(), {token_array, offset_array});
  }
};

// The run's chunks in schedule order (tasks.schedule's arrays), copied.
struct Schedule {
  std::vector<Chunk> chunks;
  Schedule(const py::object& task, const py::object& sentence_begin, const py::object& sentence_end,
           const py::object& progress_begin, const py::object& progress_end, const py::object& id) {
    int64_t n = 0, sizes[5];
    const int32_t* task_of = vector_of<int32_t>(task, "task", &n);
    const int64_t* begin = vector_of<int64_t>(sentence_begin, "sentence_begin", &sizes[0]);
    const int64_t* end = vector_of<int64_t>(sentence_end, "sentence_end", &sizes[1]);
    const double* p0 = vector_of<double>(progress_begin, "progress_begin", &sizes[2]);
    const double* p1 = vector_of<double>(progress_end, "progress_end", &sizes[3]);
    const uint64_t* ids = vector_of<uint64_t>(id, "id", &sizes[4]);
    for (int64_t size : sizes) MTL_CHECK(size == n, "the schedule's arrays differ in length");
    chunks.reserve(n);
    for (int64_t c = 0; c < n; ++c) chunks.push_back(Chunk{task_of[c], begin[c], end[c], p0[c], p1[c], ids[c]});
  }
};

// Everything a run reads and writes; train() runs any range of its chunks.
struct KernelJob {
  TrainJob job;
  Held held;
  double* chunk_stats = nullptr;  // (loss, pairs) per chunk of the schedule, or null
  std::vector<float> mean_gains;  // job.subwords.mean_gains: computed once per job, not per train call
  KernelJob(const KernelJob&) = delete;  // job.subwords points into mean_gains
  KernelJob& operator=(const KernelJob&) = delete;

  KernelJob(const py::object& w_in, const py::list& w_out, const py::object& keep_prob, const py::list& noise,
            const py::list& tasks, const Schedule& schedule, const py::object& stats,
            const py::object& subword_offsets, const py::object& subword_rows) {
    // The items, not the lists, are held: a list may change after this.
    const auto hold = [&](const py::handle item) { held.push_back(py::reinterpret_borrow<py::object>(item)); };
    job.w_in = writable_matrix(w_in, "w_in");
    hold(w_in);
    MTL_CHECK(subword_offsets.is_none() == subword_rows.is_none(),
              "subword_offsets and subword_rows come together (a SubwordTable)");
    if (!subword_offsets.is_none()) {
      int64_t n_offsets = 0, n_rows = 0;
      job.subwords.offsets = vector_of<int64_t>(subword_offsets, "subword_offsets", &n_offsets);
      job.subwords.rows = vector_of<int32_t>(subword_rows, "subword_rows", &n_rows);
      check_offsets(job.subwords.offsets, n_offsets, n_rows, "subword_offsets");
      job.subwords.words = n_offsets - 1;
      hold(subword_offsets), hold(subword_rows);
    }
    const int64_t vocab = job.vocab();
    for (const py::handle head : w_out) job.w_out.push_back(writable_matrix(head, "w_out")), hold(head);
    MTL_CHECK(!job.subwords.present() || job.w_out.empty() || job.w_out[0].rows == vocab,
              "subword_offsets must have one entry per vocabulary word plus one (w_out has ", job.w_out[0].rows,
              " rows), got ", vocab + 1);
    MTL_CHECK(vocab <= job.w_in.rows, "w_in must have at least a row per vocabulary word (", vocab, "), got ",
              job.w_in.rows);
    int64_t n_keep = 0;
    job.keep_prob = vector_of<float>(keep_prob, "keep_prob", &n_keep);
    hold(keep_prob);
    MTL_CHECK(n_keep == vocab, "keep_prob must have one entry per vocabulary word (", vocab, "), got ", n_keep);
    for (const py::handle table : noise) job.noise.push_back(table.cast<const BoundNoiseTable&>()), hold(table);
    for (const py::handle item : tasks) {  // copied: later changes to a Task do not reach this job
      const auto& task = item.cast<const BoundTask&>();
      MTL_CHECK(task.codeswitch == 0 || task.translation_rows == vocab + 1,
                "translation_offsets needs one entry per vocabulary word, plus one");
      job.tasks.push_back(task);
      hold(item);
    }
    job.chunks = schedule.chunks;
    if (!stats.is_none()) {
      py::array a = exact_array<double>(stats, "chunk_stats", 2, true);
      MTL_CHECK(a.shape(0) == int64_t(job.chunks.size()) && a.shape(1) == 2,
                "chunk_stats must have shape (chunks, 2): (loss, pairs) per chunk");
      chunk_stats = static_cast<double*>(a.mutable_data());
      hold(stats);
    }
    validate_ids(job);  // once here, not on every train call: it reads the whole corpus
    if (job.subwords.present()) {
      mean_gains = subword_mean_gains(job.subwords);
      job.subwords.mean_gains = mean_gains.data();
    }
  }

  // The plain job of chunks [begin, end).
  TrainJob segment(int64_t begin, int64_t end) const {
    TrainJob part{job.w_in, job.w_out, job.keep_prob, job.noise, job.tasks, {}, job.subwords};
    part.chunks.assign(job.chunks.begin() + begin, job.chunks.begin() + end);
    return part;
  }
};

py::dict stats_dict(const Control& control, double seconds) {
  py::dict d;
  d["words"] = control.words_done.load();
  d["chunks"] = control.chunks_done.load();
  d["pairs"] = control.pairs.load();
  d["loss"] = control.loss.load();
  d["hot_rows"] = control.hot_rows.load();
  d["seconds"] = seconds;
  return d;
}

// Trains chunks [begin, end) of the job on a thread of its own, with the GIL
// released. Every `interval` seconds the calling thread briefly takes the GIL
// to check for Ctrl-C and to report progress; a KeyboardInterrupt (or any
// exception from a signal handler or the callback) stops the workers after
// their current chunk and is returned as stats["interrupted"] (None when the
// run completed).
py::dict train(const TrainParams& params, const KernelJob& kernel_job, const std::string& backend, int64_t begin,
               const py::object& end_or_none, const py::object& progress, double interval) {
  const int64_t n_chunks = static_cast<int64_t>(kernel_job.job.chunks.size());
  const int64_t end = end_or_none.is_none() ? n_chunks : end_or_none.cast<int64_t>();
  MTL_CHECK(0 <= begin && begin <= end && end <= n_chunks, "chunks ", begin, "..", end, " are not in the schedule (",
            n_chunks, " chunks)");
  const TrainJob job = kernel_job.segment(begin, end);
  const bool on_cuda = backend == "cuda";
  const cpu::Ops* ops = on_cuda ? nullptr : &simd_ops(backend);
  Control control;
  if (kernel_job.chunk_stats) control.chunk_stats = kernel_job.chunk_stats + 2 * begin;
  std::optional<py::error_already_set> python_error;
  const auto start = std::chrono::steady_clock::now();
  {
    py::gil_scoped_release release;
    Threads runner(control.stop);
    runner.spawn([&] {
      if (on_cuda)
        cuda::train(params, job, control);
      else
        cpu::train(params, job, control, *ops);
    });
    while (!runner.wait_for(interval > 0 ? interval : 0.1)) {
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
    runner.rethrow();
  }
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
  d["cuda_architectures"] = cuda::architectures();
  return d;
}

// The distributed meetings' rows (cpu/rows.h): a matrix and its base, of one shape; row ids within it.
struct RowsOf {
  py::array matrix, base;
  RowsOf(const py::handle& m, const py::handle& b)
      : matrix(exact_array<float>(m, "matrix", 2, true)), base(exact_array<float>(b, "base", 2, true)) {
    MTL_CHECK(matrix.shape(0) == base.shape(0) && matrix.shape(1) == base.shape(1),
              "matrix and base must have the same shape");
  }
  float* data(py::array& a) const { return static_cast<float*>(a.mutable_data()); }
  const int64_t* ids(const py::handle& value, int64_t* n) const {
    const int64_t* id = vector_of<int64_t>(value, "ids", n);
    for (int64_t k = 0; k < *n; ++k)
      MTL_CHECK(id[k] >= 0 && id[k] < matrix.shape(0), "row id ", id[k], " outside the ", matrix.shape(0), " rows");
    return id;
  }
  py::array changes(const py::handle& value, int64_t n, bool writeable) const {
    py::array a = exact_array<float>(value, "changes", 2, writeable);
    MTL_CHECK(a.shape(0) == n && a.shape(1) <= matrix.shape(1), "changes must be (ids, at most ", matrix.shape(1),
              " columns), got (", a.shape(0), ", ", a.shape(1), ")");
    return a;
  }
};

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
  m.attr("LIMITS") = py::dict(py::arg("window") = kMaxWindow, py::arg("negative") = kMaxNegative,
                               py::arg("cbow_share") = kMaxCbowShare, py::arg("threads") = kMaxThreads);

  py::class_<TrainParams>(m, "TrainParams", "The kernel's hyper-parameters (sgns.h).")
      .def(py::init<>())
      .def_property("model", [](const TrainParams& p) { return p.model == Model::Cbow ? "cbow" : "sg"; },
                    [](TrainParams& p, const std::string& model) { p.model = parse_model(model); })
      .def_readwrite("dim", &TrainParams::dim, "columns of the matrices (padded)")
      .def_readwrite("window", &TrainParams::window)
      .def_readwrite("negative", &TrainParams::negative)
      .def_readwrite("cbow_share", &TrainParams::cbow_share)
      .def_readwrite("alpha", &TrainParams::alpha)
      .def_readwrite("min_alpha", &TrainParams::min_alpha)
      .def_readwrite("seed", &TrainParams::seed)
      .def_readwrite("threads", &TrainParams::threads)
      .def_readwrite("copy_hot_rows", &TrainParams::copy_hot_rows)
      .def_readwrite("hot_sync_words", &TrainParams::hot_sync_words,
                     "CPU: words a worker trains between syncs of its hot rows' copies (0: the rule, copies only from "
                     "2^23 words an epoch; >0: copies at any size)")
      .def_readwrite("cuda_cols", &TrainParams::cuda_cols, "CUDA: columns that hold values (0: all dim)")
      .def_readwrite("cuda_row_floats", &TrainParams::cuda_row_floats, "CUDA: device rows padded to 4 or 16 floats")
      .def_readwrite("shared_negatives", &TrainParams::shared_negatives)
      .def_readwrite("cbow_window_cache", &TrainParams::cbow_window_cache,
                     "CPU, CBOW with subwords: context means composed once per window position");

  py::class_<BoundNoiseTable>(m, "NoiseTable", "A language's alias table (alias_table's arrays), ids from first_id.")
      .def(py::init<const py::object&, const py::object&, int32_t>(), py::arg("prob"), py::arg("alias"),
           py::arg("first_id"));

  py::class_<BoundTask>(m, "Task", "One task's encoded corpus: sentence s is tokens[offsets[s]:offsets[s+1]].")
      .def(py::init<const py::object&, const py::object&, int32_t, int32_t, float>(), py::arg("tokens"),
           py::arg("offsets"), py::kw_only(), py::arg("noise"), py::arg("head"), py::arg("weight") = 1.0f)
      .def_readonly("noise", &BoundTask::noise)
      .def_readonly("head", &BoundTask::head)
      .def_readonly("weight", &BoundTask::weight)
      .def_readonly("codeswitch", &BoundTask::codeswitch)
      .def_property_readonly("parallel", &BoundTask::parallel)
      .def("set_translations", &BoundTask::set_translations, py::arg("codeswitch"), py::arg("offsets"),
           py::arg("ids"), "Code-switching: a kept word becomes one of its translations (a CSR table over "
           "global ids) with probability codeswitch.")
      .def("set_second_side", &BoundTask::set_second_side, py::arg("tokens"), py::arg("offsets"), py::arg("noise"),
           "Makes this a parallel task: the aligned sentences of another language (as many).");

  py::class_<Schedule>(m, "Schedule", "The chunks of a run in order (mtlembed.tasks.schedule's arrays).")
      .def(py::init<const py::object&, const py::object&, const py::object&, const py::object&, const py::object&,
                    const py::object&>(),
           py::kw_only(), py::arg("task"), py::arg("sentence_begin"), py::arg("sentence_end"),
           py::arg("progress_begin"), py::arg("progress_end"), py::arg("id"))
      .def("__len__", [](const Schedule& s) { return s.chunks.size(); });

  py::class_<KernelJob>(m, "KernelJob", "What a run reads and writes; holds its arrays while it lives.")
      .def(py::init<const py::object&, const py::list&, const py::object&, const py::list&, const py::list&,
                    const Schedule&, const py::object&, const py::object&, const py::object&>(),
           py::kw_only(), py::arg("w_in"), py::arg("w_out"), py::arg("keep_prob"), py::arg("noise"), py::arg("tasks"),
           py::arg("schedule"), py::arg("chunk_stats") = py::none(), py::arg("subword_offsets") = py::none(),
           py::arg("subword_rows") = py::none(),
           "subword_offsets (int64, words + 1) and subword_rows (int32): a SubwordTable; then word i's input "
           "vector is the mean of its w_in rows, and w_in may have more rows than the vocabulary")
      .def("__len__", [](const KernelJob& j) { return j.job.chunks.size(); });

  m.def("train", &train, py::arg("params"), py::arg("job"), py::arg("backend"), py::kw_only(), py::arg("begin") = 0,
        py::arg("end") = py::none(), py::arg("progress") = py::none(), py::arg("interval") = 0.1,
        "Trains chunks [begin, end) of the job in place; returns stats (words, chunks, pairs, loss, seconds, "
        "interrupted). `backend`: a SIMD level or 'cuda'.");

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
                       const corpus::CaseMap* lower, const std::string& tokenizer) -> py::object {
    MTL_CHECK(threads >= 1, "threads must be >= 1");
    MTL_CHECK(tokenizer == "whitespace" || tokenizer == "unicode", "tokenizer must be whitespace or unicode");
    const auto boundaries = tokenizer == "unicode" ? corpus::Boundaries::kUnicode : corpus::Boundaries::kWhitespace;
    char* data = nullptr;
    Py_ssize_t size = 0;
    PyBytes_AsStringAndSize(block.ptr(), &data, &size);
    corpus::Tokenized done;
    {
      py::gil_scoped_release release;
      done = corpus::tokenize(data, static_cast<size_t>(size), counter, stream, threads, lower, boundaries);
    }
    if (done.refused) return py::none();
    return py::make_tuple(done.tokens, done.newlines);
  }, py::arg("block"), py::arg("counter"), py::arg("stream"), py::arg("threads") = 1, py::arg("lower") = nullptr,
        py::arg("tokenizer") = "whitespace",
        "Splits a block of UTF-8 (ending at whitespace) into tokens, lowercased through `lower` if given, at "
        "whitespace or (tokenizer='unicode') at Unicode word boundaries; "
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

  m.def("rows_changed", [](const py::handle& matrix, const py::handle& base, int64_t width) {
    RowsOf r(matrix, base);
    MTL_CHECK(width >= 0 && width <= r.matrix.shape(1), "width must be 0..", r.matrix.shape(1), ", got ", width);
    py::array_t<uint8_t> changed(r.matrix.shape(0));
    uint8_t* out = changed.mutable_data();
    py::gil_scoped_release release;
    rows::changed(r.data(r.matrix), r.data(r.base), r.matrix.shape(0), r.matrix.shape(1), width, out);
    return changed;
  }, py::arg("matrix"), py::arg("base"), py::arg("width"),
        "1 for each row whose first `width` floats differ (bitwise) from base's, else 0 (uint8).");
  m.def("rows_gather", [](const py::handle& matrix, const py::handle& base, const py::handle& ids,
                          const py::handle& out) {
    RowsOf r(matrix, base);
    int64_t n = 0;
    const int64_t* id = r.ids(ids, &n);
    py::array changes = r.changes(out, n, true);
    py::gil_scoped_release release;
    rows::gather(r.data(r.matrix), r.data(r.base), r.matrix.shape(1), changes.shape(1), id, n, r.data(changes));
  }, py::arg("matrix"), py::arg("base"), py::arg("ids"), py::arg("out"),
        "out[k] = (matrix - base)[ids[k], :out.shape[1]].");
  m.def("rows_apply", [](const py::handle& matrix, const py::handle& base, const py::handle& ids,
                         const py::handle& changes, float scale) {
    RowsOf r(matrix, base);
    int64_t n = 0;
    const int64_t* id = r.ids(ids, &n);
    py::array c = r.changes(changes, n, false);
    py::gil_scoped_release release;
    rows::apply(r.data(r.matrix), r.data(r.base), r.matrix.shape(1), c.shape(1), id, n,
                static_cast<const float*>(c.data()), scale);
  }, py::arg("matrix"), py::arg("base"), py::arg("ids"), py::arg("changes"), py::arg("scale"),
        "base[ids[k], :w] += scale * changes[k], then matrix[ids[k], :w] = base[ids[k], :w] (w: changes' columns).");
}
