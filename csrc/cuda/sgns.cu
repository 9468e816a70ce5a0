// Host side of the CUDA backend: device buffers, the upload of the corpus and
// matrices, the launch loop, and the per-center step for tests. The kernels
// are in kernels.cuh.
//
// train(): everything is copied to the device once. Chunks are trained in
// schedule order by launches that each cover ~kLaunchSeconds of work; two
// launches are kept in flight on two streams, so the next one fills the SMs
// while the previous one drains its last pieces. control.stop is checked
// before every launch, and progress is added to control after every launch.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../common.h"
#include "backend.h"
#include "kernels.cuh"

#ifndef MTLEMBED_CUDA_ARCHITECTURES
#define MTLEMBED_CUDA_ARCHITECTURES ""  // a build outside CMake: unknown
#endif

namespace mtl::cuda {
namespace {

// Target duration of one launch: short enough that Ctrl-C (checked between
// launches, two in flight) stops within a second, long enough to amortize
// the launch tail.
constexpr double kLaunchSeconds = 0.2;
constexpr int64_t kFirstLaunchTokens = int64_t(1) << 20;
constexpr int64_t kMaxInFlight = 16;
// Workspaces that do not fit in shared memory go to global memory, at most
// this much per in-flight launch.
constexpr size_t kMaxGlobalWorkspace = size_t(1) << 30;

[[noreturn]] void fail(cudaError_t error, const char* call, const char* file, int line) {
  throw std::runtime_error(concat("CUDA error: ", cudaGetErrorString(error), " (", cudaGetErrorName(error), ") in ",
                                  call, " at ", file, ":", line));
}

#define MTL_CUDA(call)                                               \
  do {                                                               \
    const cudaError_t mtl_cuda_error = (call);                       \
    if (mtl_cuda_error != cudaSuccess) fail(mtl_cuda_error, #call, __FILE__, __LINE__); \
  } while (0)

// Launch errors; cudaErrorNotReady is left behind by event polling, not a failure.
void check_launch(const char* what) {
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess && error != cudaErrorNotReady) fail(error, what, __FILE__, __LINE__);
}

// Device memory owned by one object; freed on every exit path.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) : count_(count) {
    if (count > 0) MTL_CUDA(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept : data_(other.data_), count_(other.count_) {
    other.data_ = nullptr;
    other.count_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
    return *this;
  }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);  // errors here cannot be reported; the first one was thrown
  }
  T* get() const { return data_; }
  size_t size() const { return count_; }
  void upload(const T* host, size_t count, size_t at = 0) {
    if (count > 0) MTL_CUDA(cudaMemcpy(data_ + at, host, count * sizeof(T), cudaMemcpyHostToDevice));
  }
  void upload(const std::vector<T>& host) { upload(host.data(), host.size()); }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

// Page-locked host memory, so the counters come back asynchronously.
template <class T>
class PinnedBuffer {
 public:
  explicit PinnedBuffer(size_t count = 1) {
    MTL_CUDA(cudaMallocHost(reinterpret_cast<void**>(&data_), count * sizeof(T)));
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { cudaFreeHost(data_); }
  T* get() const { return data_; }

 private:
  T* data_ = nullptr;
};

// A stream that drains on destruction, so no kernel outlives the buffers it
// uses (streams are declared last). Blocking (the default): its kernels are
// ordered after the uploads, which run on the legacy default stream and may
// still be in flight when cudaMemcpy/cudaMemset return.
class Stream {
 public:
  Stream() { MTL_CUDA(cudaStreamCreate(&stream_)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() { MTL_CUDA(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { cudaEventDestroy(event_); }
  cudaEvent_t get() const { return event_; }

  // Waits without spinning a core at 100%: the calling thread has nothing else to do.
  void wait() const {
    for (;;) {
      const cudaError_t state = cudaEventQuery(event_);
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady) fail(state, "cudaEventQuery", __FILE__, __LINE__);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

 private:
  cudaEvent_t event_ = nullptr;
};

// A matrix on the device: the first `cols` columns of the host's rows, each
// row padded to `stride` floats (a multiple of 4: float4 access). The padding
// stays zero, so it never changes a dot product; the host's columns beyond
// `cols` (zero padding) are neither uploaded nor written back.
struct DeviceMatrix {
  DeviceBuffer<float> data;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t stride = 0;

  DeviceMatrix(const Matrix& host, int64_t used, int64_t row_floats)
      : data(size_t(host.rows * row_floats)), rows(host.rows), cols(used), stride(row_floats) {
    if (rows == 0) return;
    if (stride != cols) MTL_CUDA(cudaMemset(data.get(), 0, data.size() * sizeof(float)));
    MTL_CUDA(cudaMemcpy2D(data.get(), stride * sizeof(float), host.data, host.cols * sizeof(float),
                          cols * sizeof(float), rows, cudaMemcpyHostToDevice));
  }
  explicit DeviceMatrix(const Matrix& host) : DeviceMatrix(host, host.cols, round_up(host.cols, 4)) {}
  void download(const Matrix& host) const {
    if (rows == 0) return;
    MTL_CUDA(cudaMemcpy2D(host.data, host.cols * sizeof(float), data.get(), stride * sizeof(float),
                          cols * sizeof(float), rows, cudaMemcpyDeviceToHost));
  }
  float4* rows4() const { return reinterpret_cast<float4*>(data.get()); }
};

int current_device() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw std::runtime_error("CUDA backend: no CUDA device is available");
  }
  int device = 0;
  MTL_CUDA(cudaGetDevice(&device));
  return device;
}

// How the kernel is launched for one configuration.
struct LaunchShape {
  bool shared = true;
  int block_threads = 0;
  int blocks = 0;
  size_t shared_bytes = 0;  // per block
  int sms = 0;
};

template <Model M, bool kParallel, bool kSubwords>
LaunchShape launch_shape(const Layout& L, int device) {
  int sms = 0, optin = 0;
  MTL_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  MTL_CUDA(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const size_t warp_bytes = size_t(L.words) * sizeof(float);
  LaunchShape best;
  if (warp_bytes <= size_t(optin)) {
    auto kernel = train_kernel<M, true, kParallel, kSubwords>;
    MTL_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
    MTL_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                  cudaSharedmemCarveoutMaxShared));
    // Shared memory bounds the warps per SM; pick the block size that packs the most.
    int best_warps = 0;
    for (int warps = kMaxBlockThreads / kWarpSize; warps >= 1; warps /= 2) {
      const size_t bytes = warp_bytes * warps;
      if (bytes > size_t(optin)) continue;
      int per_sm = 0;
      MTL_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, warps * kWarpSize, bytes));
      if (per_sm * warps > best_warps) {
        best_warps = per_sm * warps;
        best = LaunchShape{true, warps * kWarpSize, per_sm * sms, bytes, sms};
      }
    }
    if (best_warps > 0) return best;
  }
  // Too large for shared memory (huge dim x window): workspaces in global memory.
  auto kernel = train_kernel<M, false, kParallel, kSubwords>;
  int per_sm = 0;
  MTL_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kMaxBlockThreads, 0));
  const size_t max_warps = std::max<size_t>(1, kMaxGlobalWorkspace / warp_bytes);
  const size_t warps = std::min<size_t>(size_t(std::max(per_sm, 1)) * sms * (kMaxBlockThreads / kWarpSize), max_warps);
  const int block_warps = static_cast<int>(std::min<size_t>(warps, kMaxBlockThreads / kWarpSize));
  return LaunchShape{false, block_warps * kWarpSize, static_cast<int>(warps / block_warps), 0, sms};
}

// One launch in flight: its stream, counters and what it will have done.
struct InFlight {
  DeviceBuffer<Counters> counters{1};
  PinnedBuffer<Counters> result;
  DeviceBuffer<float> workspace;  // global-memory workspaces, if used
  Event done;
  Stream stream;  // last member: destroyed (and drained) before the buffers
  int64_t tokens = 0;
  int64_t first_chunk = 0, chunks = 0;
};

// kSubwords: the job has a subword table (its kernels also train parallel tasks, kParallel).
template <Model M, bool kParallel, bool kSubwords>
void run(const TrainParams& params, const TrainJob& job, Control& control, int device) {
  const Layout layout = train_layout(params, kParallel, kSubwords);
  LaunchShape shape = launch_shape<M, kParallel, kSubwords>(layout, device);

  // Everything the kernel reads, copied once.
  const int64_t used_cols = device_cols(params), row_floats = 4 * layout.groups;
  DeviceMatrix w_in(job.w_in, used_cols, row_floats);
  std::vector<DeviceMatrix> heads;
  heads.reserve(job.w_out.size());
  std::vector<float4*> head_ptrs;
  for (const Matrix& head : job.w_out) {
    heads.emplace_back(head, used_cols, row_floats);
    head_ptrs.push_back(heads.back().rows4());
  }
  DeviceBuffer<float4*> d_heads(head_ptrs.size());
  d_heads.upload(head_ptrs);
  DeviceBuffer<float> keep_prob(size_t(job.vocab()));
  keep_prob.upload(job.keep_prob, size_t(job.vocab()));

  int64_t noise_total = 0;
  for (const NoiseTable& t : job.noise) noise_total += t.size;
  DeviceBuffer<float> noise_prob(static_cast<size_t>(noise_total));
  DeviceBuffer<int32_t> noise_alias(static_cast<size_t>(noise_total));
  std::vector<NoiseTable> noise;
  int64_t at = 0;
  for (const NoiseTable& t : job.noise) {
    noise_prob.upload(t.prob, size_t(t.size), size_t(at));
    noise_alias.upload(t.alias, size_t(t.size), size_t(at));
    noise.push_back(NoiseTable{noise_prob.get() + at, noise_alias.get() + at, t.size, t.first_id});
    at += t.size;
  }
  DeviceBuffer<NoiseTable> d_noise(noise.size());
  d_noise.upload(noise);
  const Subwords& table = job.subwords;
  const size_t n_table_rows = table.present() ? size_t(table.offsets[table.words]) : 0;
  DeviceBuffer<int64_t> subword_offsets(table.present() ? size_t(table.words + 1) : 0);
  DeviceBuffer<int32_t> subword_rows(n_table_rows);
  subword_offsets.upload(table.offsets, subword_offsets.size());
  subword_rows.upload(table.rows, n_table_rows);

  // Every task's sentences (and a parallel task's second side) in two buffers.
  int64_t token_total = 0, offset_total = 0;
  for (const Task& t : job.tasks) {
    token_total += t.sentence_offsets[t.n_sentences] + (t.parallel() ? t.second_offsets[t.n_sentences] : 0);
    offset_total += (t.n_sentences + 1) * (t.parallel() ? 2 : 1);
  }
  DeviceBuffer<int32_t> tokens(static_cast<size_t>(token_total));
  DeviceBuffer<int64_t> offsets(static_cast<size_t>(offset_total));
  int64_t token_at = 0, offset_at = 0;
  const auto upload_side = [&](const int32_t* side_tokens, const int64_t* side_offsets, int64_t n_sentences,
                               const int32_t*& device_tokens, const int64_t*& device_offsets) {
    const int64_t n = side_offsets[n_sentences];
    tokens.upload(side_tokens, size_t(n), size_t(token_at));
    offsets.upload(side_offsets, size_t(n_sentences + 1), size_t(offset_at));
    device_tokens = tokens.get() + token_at;
    device_offsets = offsets.get() + offset_at;
    token_at += n;
    offset_at += n_sentences + 1;
  };
  // Code-switching tables, once per distinct table.
  std::unordered_map<const int64_t*, std::pair<DeviceBuffer<int64_t>, DeviceBuffer<int32_t>>> translations;
  std::vector<Task> tasks;
  for (const Task& t : job.tasks) {
    Task d = t;
    upload_side(t.tokens, t.sentence_offsets, t.n_sentences, d.tokens, d.sentence_offsets);
    if (t.parallel()) upload_side(t.second_tokens, t.second_offsets, t.n_sentences, d.second_tokens, d.second_offsets);
    if (t.codeswitch > 0.0f) {
      auto found = translations.find(t.translations.offsets);
      if (found == translations.end()) {
        const size_t rows = size_t(job.vocab()) + 1, ids = size_t(t.translations.offsets[job.vocab()]);
        std::pair<DeviceBuffer<int64_t>, DeviceBuffer<int32_t>> table{DeviceBuffer<int64_t>(rows),
                                                                      DeviceBuffer<int32_t>(ids)};
        table.first.upload(t.translations.offsets, rows);
        table.second.upload(t.translations.ids, ids);
        found = translations.emplace(t.translations.offsets, std::move(table)).first;
      }
      d.translations = Translations{found->second.first.get(), found->second.second.get()};
    } else {
      d.translations = Translations{};
    }
    tasks.push_back(d);
  }
  DeviceBuffer<Task> d_tasks(tasks.size());
  d_tasks.upload(tasks);

  const size_t n_chunks = job.chunks.size();
  std::vector<DevChunk> chunks;
  std::vector<int64_t> piece_first, chunk_words;
  plan_chunks(job, chunks, piece_first, chunk_words);
  DeviceBuffer<DevChunk> d_chunks(n_chunks);
  d_chunks.upload(chunks);
  DeviceBuffer<int64_t> d_piece_first(n_chunks + 1);
  d_piece_first.upload(piece_first);
  // Each chunk's (loss, pairs); a launch copies back those of its chunks.
  DeviceBuffer<double> d_chunk_stats(2 * n_chunks);
  MTL_CUDA(cudaMemset(d_chunk_stats.get(), 0, d_chunk_stats.size() * sizeof(double)));
  PinnedBuffer<double> chunk_stats(2 * n_chunks);

  // Warps train in parallel what the CPU trains in sequence: on a small run,
  // every warp at once would train its epochs concurrently, out of the lr
  // schedule's order. At most 1/kMaxInFlight of the run is in flight.
  const int64_t warps_wanted = std::max<int64_t>(shape.sms, (piece_first[n_chunks] + kMaxInFlight - 1) / kMaxInFlight);
  const int block_warps = shape.block_threads / kWarpSize;
  shape.blocks = static_cast<int>(std::min<int64_t>(shape.blocks, (warps_wanted + block_warps - 1) / block_warps));

  const DeviceJob dj{w_in.rows4(), d_heads.get(), keep_prob.get(), d_noise.get(), d_tasks.get(), d_chunks.get(),
                     d_piece_first.get(), d_chunk_stats.get(), layout, params.window, params.negative,
                     M == Model::Cbow ? params.cbow_share : 1, params.alpha, params.min_alpha, params.seed,
                     Subwords{table.present() ? subword_offsets.get() : nullptr, subword_rows.get(), table.words}};

  InFlight slots[2];  // declared after the buffers: destroyed (and drained) first
  if (!shape.shared)
    for (InFlight& slot : slots)
      slot.workspace = DeviceBuffer<float>(size_t(shape.blocks) * (shape.block_threads / kWarpSize) * layout.words);

  std::deque<InFlight*> queue;  // launches in flight, oldest first
  size_t next = 0;
  int turn = 0;
  int64_t batch_tokens = kFirstLaunchTokens, tokens_done = 0;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    while (queue.size() < 2 && next < n_chunks && !control.stop.load()) {
      InFlight& slot = slots[turn];
      turn ^= 1;
      size_t end = next;
      int64_t tokens_in = 0;
      while (end < n_chunks && (end == next || tokens_in + chunk_words[end] <= batch_tokens))
        tokens_in += chunk_words[end++];
      const Launch launch{int64_t(next), int64_t(end), piece_first[next], piece_first[end], slot.counters.get(),
                          slot.workspace.get()};
      cudaStream_t stream = slot.stream.get();
      MTL_CUDA(cudaMemsetAsync(slot.counters.get(), 0, sizeof(Counters), stream));
      if (launch.piece_end > launch.piece_begin) {
        check_launch("before the training kernel");
        if (shape.shared)
          train_kernel<M, true, kParallel, kSubwords>
              <<<shape.blocks, shape.block_threads, shape.shared_bytes, stream>>>(dj, launch);
        else
          train_kernel<M, false, kParallel, kSubwords><<<shape.blocks, shape.block_threads, 0, stream>>>(dj, launch);
        check_launch("train_kernel launch");
      }
      MTL_CUDA(cudaMemcpyAsync(slot.result.get(), slot.counters.get(), sizeof(Counters), cudaMemcpyDeviceToHost,
                               stream));
      MTL_CUDA(cudaMemcpyAsync(chunk_stats.get() + 2 * next, d_chunk_stats.get() + 2 * next,
                               2 * (end - next) * sizeof(double), cudaMemcpyDeviceToHost, stream));
      MTL_CUDA(cudaEventRecord(slot.done.get(), stream));
      slot.tokens = tokens_in;
      slot.first_chunk = int64_t(next);
      slot.chunks = int64_t(end - next);
      next = end;
      queue.push_back(&slot);
    }
    if (queue.empty()) break;
    InFlight& slot = *queue.front();
    queue.pop_front();
    slot.done.wait();
    const Counters& result = *slot.result.get();
    control.words_done.fetch_add(slot.tokens, std::memory_order_relaxed);
    control.pairs.fetch_add(static_cast<int64_t>(result.pairs), std::memory_order_relaxed);
    control.add_loss(result.loss);
    if (control.chunk_stats)
      std::copy_n(chunk_stats.get() + 2 * slot.first_chunk, 2 * slot.chunks,
                  control.chunk_stats + 2 * slot.first_chunk);
    control.chunks_done.fetch_add(slot.chunks);
    // Size the next launches from the rate so far (at most 4x growth per step).
    tokens_done += slot.tokens;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (seconds > 0) {
      const double wanted = double(tokens_done) / seconds * kLaunchSeconds;
      batch_tokens = std::max<int64_t>(kPieceTokens, std::min<int64_t>(int64_t(wanted), 4 * batch_tokens));
    }
  }

  // Also when stopped: the caller keeps what was trained so far.
  w_in.download(job.w_in);
  for (size_t h = 0; h < heads.size(); ++h) heads[h].download(job.w_out[h]);
}

}  // namespace

bool compiled() { return true; }

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear: no driver or no device is not an error here
    return 0;
  }
  return count;
}

std::vector<std::string> device_names() {
  std::vector<std::string> names;
  const int count = device_count();
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) {
      cudaGetLastError();
      names.push_back("unknown CUDA device");
      continue;
    }
    names.emplace_back(prop.name);
  }
  return names;
}

std::vector<std::string> architectures() {
  std::vector<std::string> names;
  std::string name;
  for (const char* c = MTLEMBED_CUDA_ARCHITECTURES;; ++c) {
    if (*c == ',' || *c == '\0') {
      if (!name.empty()) names.push_back(name);
      name.clear();
      if (*c == '\0') break;
    } else {
      name += *c;
    }
  }
  return names;
}

void train(const TrainParams& params, const TrainJob& job, Control& control) {
  validate(params, job);
  MTL_CHECK(params.cuda_cols >= 0 && params.cuda_cols <= params.dim, "cuda_cols must be in 0..dim (", params.dim,
            "), got ", params.cuda_cols);
  MTL_CHECK(params.cuda_row_floats == 4 || params.cuda_row_floats == 16, "cuda_row_floats must be 4 or 16, got ",
            params.cuda_row_floats);
  // mtlembed.backend.device_for_job says so before the corpus is read; this is the backstop.
  MTL_CHECK(params.shared_negatives || params.model == Model::Cbow,
            "skip-gram with per-pair negatives (shared_negatives=False) is not implemented on CUDA; use device='cpu'");
  const int device = current_device();
  if (job.chunks.empty()) return;
  const bool parallel = has_parallel_tasks(job), subwords = job.subwords.present();
  if (params.model == Model::SkipGram)
    (subwords ? run<Model::SkipGram, true, true>
              : parallel ? run<Model::SkipGram, true, false> : run<Model::SkipGram, false, false>)(params, job,
                                                                                                  control, device);
  else
    (subwords ? run<Model::Cbow, true, true>
              : parallel ? run<Model::Cbow, true, false> : run<Model::Cbow, false, false>)(params, job, control,
                                                                                          device);
}

double step(Model model, const Matrix& w_in, const Matrix& w_out, const int32_t* contexts, int n_contexts,
            const int32_t* targets, int n_targets, float lr) {
  MTL_CHECK(w_in.cols == w_out.cols && w_in.cols >= 1, "w_in and w_out must have the same number of columns");
  MTL_CHECK(n_contexts >= 1 && n_targets >= 1, "step needs at least one context and one target");
  const int device = current_device();
  // Only the touched rows travel: compact copies, indexed by first appearance.
  auto compact = [](const Matrix& m, const int32_t* ids, int n, std::vector<int32_t>& index,
                    std::vector<int32_t>& rows) {
    std::unordered_map<int32_t, int32_t> seen;
    for (int i = 0; i < n; ++i) {
      MTL_CHECK(ids[i] >= 0 && ids[i] < m.rows, "row id ", ids[i], " is out of range");
      const auto found = seen.emplace(ids[i], static_cast<int32_t>(rows.size()));
      if (found.second) rows.push_back(ids[i]);
      index.push_back(found.first->second);
    }
  };
  std::vector<int32_t> ctx_index, ctx_rows, tgt_index, tgt_rows;
  compact(w_in, contexts, n_contexts, ctx_index, ctx_rows);
  compact(w_out, targets, n_targets, tgt_index, tgt_rows);
  const int64_t dim = w_in.cols;
  auto gather = [dim](const Matrix& m, const std::vector<int32_t>& rows) {
    std::vector<float> out(rows.size() * dim);
    for (size_t r = 0; r < rows.size(); ++r) std::memcpy(&out[r * dim], m.row(rows[r]), dim * sizeof(float));
    return out;
  };
  std::vector<float> in_rows = gather(w_in, ctx_rows), out_rows = gather(w_out, tgt_rows);
  const Matrix in_host{in_rows.data(), int64_t(ctx_rows.size()), dim};
  const Matrix out_host{out_rows.data(), int64_t(tgt_rows.size()), dim};

  const Layout layout = make_layout(int(dim), n_contexts, n_contexts, n_targets, 0);
  DeviceMatrix d_in(in_host), d_out(out_host);
  DeviceBuffer<int32_t> d_ctx(ctx_index.size()), d_tgt(tgt_index.size());
  d_ctx.upload(ctx_index);
  d_tgt.upload(tgt_index);
  DeviceBuffer<double> d_loss(1);
  // The shared-memory path (the one training uses) whenever the workspace fits.
  int optin = 0;
  MTL_CUDA(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const size_t bytes = size_t(layout.words) * sizeof(float);
  const bool shared = bytes <= size_t(optin);
  DeviceBuffer<float> workspace(shared ? 0 : static_cast<size_t>(layout.words));
  auto kernel = model == Model::SkipGram
                    ? (shared ? step_kernel<Model::SkipGram, true> : step_kernel<Model::SkipGram, false>)
                    : (shared ? step_kernel<Model::Cbow, true> : step_kernel<Model::Cbow, false>);
  if (shared) MTL_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  check_launch("before the step kernel");
  kernel<<<1, kWarpSize, shared ? bytes : 0>>>(d_in.rows4(), d_out.rows4(), d_ctx.get(), n_contexts, d_tgt.get(),
                                               n_targets, lr, layout, workspace.get(), d_loss.get());
  check_launch("step_kernel launch");
  double loss = 0.0;
  MTL_CUDA(cudaMemcpy(&loss, d_loss.get(), sizeof(double), cudaMemcpyDeviceToHost));  // waits for the kernel
  d_in.download(in_host);
  d_out.download(out_host);
  for (size_t r = 0; r < ctx_rows.size(); ++r)
    std::memcpy(w_in.row(ctx_rows[r]), &in_rows[r * dim], dim * sizeof(float));
  for (size_t r = 0; r < tgt_rows.size(); ++r)
    std::memcpy(w_out.row(tgt_rows[r]), &out_rows[r * dim], dim * sizeof(float));
  return loss;
}

}  // namespace mtl::cuda
