#include "train.h"

#include <thread>
#include <vector>

#include "../common.h"
#include "../sampling.h"

namespace mtl::cpu {
namespace {

// What one worker owns: its buffers never move, so no false sharing.
struct Worker {
  const TrainParams& params;
  const TrainJob& job;
  Control& control;
  const Ops& ops;
  std::vector<int32_t> kept;     // the sentence after subsampling
  std::vector<int32_t> contexts;
  std::vector<int32_t> targets;
  std::vector<float> scratch;

  Worker(const TrainParams& p, const TrainJob& j, Control& c, const Ops& o)
      : params(p), job(j), control(c), ops(o),
        contexts(2 * p.window), targets(p.negative + 1),
        scratch(scratch_floats(2 * p.window, p.negative + 1, p.dim)) {}

  void run_chunk(const Chunk& chunk) {
    const Task& task = job.tasks[chunk.task];
    const Matrix& w_out = job.w_out[task.head];
    const NoiseTable& noise = job.noise[task.noise];
    const StepFn step = params.model == Model::SkipGram ? ops.skipgram : ops.cbow;
    Rng rng(params.seed, chunk.id);

    const int64_t first = task.sentence_offsets[chunk.sentence_begin];
    const int64_t span = task.sentence_offsets[chunk.sentence_end] - first;
    double loss = 0.0;
    int64_t pairs = 0;
    for (int64_t s = chunk.sentence_begin; s < chunk.sentence_end; ++s) {
      const int64_t begin = task.sentence_offsets[s], end = task.sentence_offsets[s + 1];
      // Linear decay over the whole run, placed by this sentence's position.
      const double progress = chunk.progress_begin + (chunk.progress_end - chunk.progress_begin) *
                                                         (span > 0 ? double(begin - first) / double(span) : 0.0);
      const float lr = task.weight * static_cast<float>(params.alpha - (params.alpha - params.min_alpha) * progress);

      kept.clear();
      for (int64_t i = begin; i < end; ++i)
        if (keep_token(rng, job.keep_prob, task.tokens[i])) kept.push_back(task.tokens[i]);
      const int n = static_cast<int>(kept.size());
      for (int i = 0; i < n; ++i) {
        const int reach = params.window - static_cast<int>(rng.below(params.window));  // 1..window
        int n_contexts = 0;
        const int lo = i - reach < 0 ? 0 : i - reach, hi = i + reach >= n ? n - 1 : i + reach;
        for (int j = lo; j <= hi; ++j)
          if (j != i) contexts[n_contexts++] = kept[j];
        if (n_contexts == 0) continue;
        const int32_t center = kept[i];
        int n_targets = 0;
        targets[n_targets++] = center;
        for (int k = 0; k < params.negative; ++k) {
          const int32_t negative = draw_negative(rng, noise);
          if (negative != center) targets[n_targets++] = negative;  // as word2vec: skip the center
        }
        loss += step(job.w_in, w_out, contexts.data(), n_contexts, targets.data(), n_targets, lr, scratch.data());
        pairs += params.model == Model::SkipGram ? int64_t(n_contexts) * n_targets : n_targets;
      }
      control.words_done.fetch_add(end - begin, std::memory_order_relaxed);
    }
    control.add_loss(loss);
    control.pairs.fetch_add(pairs, std::memory_order_relaxed);
  }
};

}  // namespace

void train(const TrainParams& params, const TrainJob& job, Control& control, const Ops& ops) {
  validate(params, job);
  MTL_CHECK(job.w_in.cols % kRowBlock == 0, "the CPU kernel needs rows padded to a multiple of ", kRowBlock,
            " floats, got ", job.w_in.cols);
  std::atomic<int64_t> next_chunk{0};
  const int64_t n_chunks = static_cast<int64_t>(job.chunks.size());
  auto work = [&] {
    try {
      Worker worker(params, job, control, ops);
      for (;;) {
        const int64_t c = next_chunk.fetch_add(1);
        if (c >= n_chunks || control.stop.load()) break;
        worker.run_chunk(job.chunks[c]);  // a taken chunk is always finished
        control.chunks_done.fetch_add(1);
      }
    } catch (...) {
      control.fail(std::current_exception());
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < params.threads; ++t) pool.emplace_back(work);
  work();  // the calling thread works too
  for (auto& thread : pool) thread.join();
  control.rethrow_if_failed();
}

}  // namespace mtl::cpu
