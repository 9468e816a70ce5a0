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
  const StepFn step;
  std::vector<int32_t> kept, kept_second;  // sentences after subsampling
  std::vector<int32_t> contexts;
  std::vector<int32_t> targets;
  std::vector<float> scratch;
  double loss = 0.0;
  int64_t pairs = 0;

  Worker(const TrainParams& p, const TrainJob& j, Control& c, const Ops& ops)
      : params(p), job(j), control(c), step(p.model == Model::SkipGram ? ops.skipgram : ops.cbow),
        contexts(2 * p.window + 1), targets(p.negative + 1),
        scratch(scratch_floats(2 * p.window + 1, p.negative + 1, p.dim)) {}

  // Subsampling, then code-switching: a kept word with translations becomes
  // one of them with probability task.codeswitch.
  void subsample(Rng& rng, const Task& task, const int32_t* tokens, int64_t begin, int64_t end,
                 std::vector<int32_t>& out) {
    out.clear();
    for (int64_t i = begin; i < end; ++i) {
      int32_t id = tokens[i];
      if (!keep_token(rng, job.keep_prob, id)) continue;
      if (task.codeswitch > 0) {
        const int64_t first = task.translations.offsets[id], count = task.translations.offsets[id + 1] - first;
        if (count > 0 && rng.uniform() < task.codeswitch)
          id = task.translations.ids[first + rng.below(static_cast<uint32_t>(count))];
      }
      out.push_back(id);
    }
  }

  // One center word: its contexts predict it against `negative` shared negatives
  // drawn from the center's language.
  void train_center(Rng& rng, int32_t center, int n_contexts, const NoiseTable& noise, const Matrix& w_out,
                    float lr) {
    int n_targets = 0;
    targets[n_targets++] = center;
    for (int k = 0; k < params.negative; ++k) {
      const int32_t negative = draw_negative(rng, noise);
      if (negative != center) targets[n_targets++] = negative;  // as word2vec: skip the center
    }
    loss += step(job.w_in, w_out, contexts.data(), n_contexts, targets.data(), n_targets, lr, scratch.data());
    pairs += params.model == Model::SkipGram ? int64_t(n_contexts) * n_targets : n_targets;
  }

  // Skip-gram / CBOW within one sentence, with word2vec's reduced window.
  void train_sentence(Rng& rng, const std::vector<int32_t>& words, const NoiseTable& noise, const Matrix& w_out,
                      float lr) {
    const int n = static_cast<int>(words.size());
    for (int i = 0; i < n; ++i) {
      const int reach = params.window - static_cast<int>(rng.below(params.window));  // 1..window
      int n_contexts = 0;
      const int lo = i - reach < 0 ? 0 : i - reach, hi = i + reach >= n ? n - 1 : i + reach;
      for (int j = lo; j <= hi; ++j)
        if (j != i) contexts[n_contexts++] = words[j];
      if (n_contexts > 0) train_center(rng, words[i], n_contexts, noise, w_out, lr);
    }
  }

  // Across an aligned pair: word i of `from` is the target predicted by the
  // words of `to` around position i * |to| / |from| (BiSkip's alignment).
  void train_across(Rng& rng, const std::vector<int32_t>& from, const std::vector<int32_t>& to,
                    const NoiseTable& noise, const Matrix& w_out, float lr) {
    const int n = static_cast<int>(from.size()), m = static_cast<int>(to.size());
    if (n == 0 || m == 0) return;
    for (int i = 0; i < n; ++i) {
      const int reach = params.window - static_cast<int>(rng.below(params.window));
      const int aligned = static_cast<int>((static_cast<int64_t>(2 * i + 1) * m) / (2 * n));  // rounded
      const int lo = aligned - reach < 0 ? 0 : aligned - reach, hi = aligned + reach >= m ? m - 1 : aligned + reach;
      int n_contexts = 0;
      for (int j = lo; j <= hi; ++j) contexts[n_contexts++] = to[j];
      train_center(rng, from[i], n_contexts, noise, w_out, lr);
    }
  }

  void run_chunk(const Chunk& chunk, int64_t index) {
    const Task& task = job.tasks[chunk.task];
    const Matrix& w_out = job.w_out[task.head];
    Rng rng(params.seed, chunk.id);
    const auto size = [&](int64_t s) {
      const int64_t own = task.sentence_offsets[s + 1] - task.sentence_offsets[s];
      return task.parallel() ? own + task.second_offsets[s + 1] - task.second_offsets[s] : own;
    };
    int64_t span = 0, done = 0;
    for (int64_t s = chunk.sentence_begin; s < chunk.sentence_end; ++s) span += size(s);
    loss = 0.0;
    pairs = 0;
    for (int64_t s = chunk.sentence_begin; s < chunk.sentence_end; ++s) {
      // Linear decay over the whole run, placed by this sentence's position.
      const double progress =
          chunk.progress_begin + (chunk.progress_end - chunk.progress_begin) * (span > 0 ? double(done) / span : 0.0);
      const float lr = task.weight * static_cast<float>(params.alpha - (params.alpha - params.min_alpha) * progress);
      subsample(rng, task, task.tokens, task.sentence_offsets[s], task.sentence_offsets[s + 1], kept);
      if (task.parallel()) {
        subsample(rng, task, task.second_tokens, task.second_offsets[s], task.second_offsets[s + 1], kept_second);
        train_across(rng, kept, kept_second, job.noise[task.noise], w_out, lr);
        train_across(rng, kept_second, kept, job.noise[task.second_noise], w_out, lr);
      } else {
        train_sentence(rng, kept, job.noise[task.noise], w_out, lr);
      }
      done += size(s);
      control.words_done.fetch_add(size(s), std::memory_order_relaxed);
    }
    control.add_loss(loss);
    control.pairs.fetch_add(pairs, std::memory_order_relaxed);
    if (control.chunk_stats) {
      control.chunk_stats[2 * index] = loss;
      control.chunk_stats[2 * index + 1] = static_cast<double>(pairs);
    }
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
        worker.run_chunk(job.chunks[c], c);  // a taken chunk is always finished
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
