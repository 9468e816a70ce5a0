#include "sgns.h"

#include <algorithm>

#include "common.h"

namespace mtl {

static void check_ids(const int32_t* ids, int64_t n, int64_t rows) {
  for (int64_t i = 0; i < n; ++i)
    MTL_CHECK(ids[i] >= 0 && ids[i] < rows, "id ", ids[i], " at position ", i, " is outside the vocabulary");
}

void validate(const TrainParams& p, const TrainJob& job) {
  MTL_CHECK(p.dim >= 1, "dim must be >= 1, got ", p.dim);
  MTL_CHECK(p.window >= 1 && p.window <= kMaxWindow, "window must be in 1..", kMaxWindow, ", got ", p.window);
  MTL_CHECK(p.negative >= 1 && p.negative <= kMaxNegative, "negative must be in 1..", kMaxNegative,
            ", got ", p.negative);
  MTL_CHECK(p.threads >= 1 && p.threads <= kMaxThreads, "threads must be in 1..", kMaxThreads, ", got ", p.threads);
  MTL_CHECK(p.cbow_share >= 1 && p.cbow_share <= kMaxCbowShare, "cbow_share must be in 1..", kMaxCbowShare,
            ", got ", p.cbow_share);
  MTL_CHECK(p.alpha > 0 && p.min_alpha >= 0, "alpha must be > 0 and min_alpha >= 0");
  MTL_CHECK(job.w_in.data != nullptr && job.w_in.cols == p.dim, "w_in must have ", p.dim, " columns");
  const int64_t vocab = job.vocab();
  MTL_CHECK(vocab >= 1 && vocab <= job.w_in.rows, "the subword table has ", vocab, " words but w_in only ",
            job.w_in.rows, " rows (a word's own row comes before the buckets)");
  MTL_CHECK(!job.w_out.empty(), "at least one w_out head is needed");
  for (const Matrix& head : job.w_out)
    MTL_CHECK(head.data != nullptr && head.rows == vocab && head.cols == p.dim,
              "every w_out head must have one row per vocabulary word and the columns of w_in (", vocab, " x ",
              p.dim, ")");
  MTL_CHECK(job.keep_prob != nullptr, "keep_prob is missing");
  for (const NoiseTable& noise : job.noise)
    MTL_CHECK(noise.size >= 1 && noise.first_id >= 0 && noise.first_id + noise.size <= vocab,
              "a noise table does not fit the vocabulary");
  for (const Task& task : job.tasks) {
    MTL_CHECK(task.noise >= 0 && task.noise < static_cast<int32_t>(job.noise.size()), "task noise index out of range");
    MTL_CHECK(task.head >= 0 && task.head < static_cast<int32_t>(job.w_out.size()), "task head index out of range");
    MTL_CHECK(task.weight >= 0, "task weight must be >= 0");
    MTL_CHECK(task.codeswitch >= 0 && task.codeswitch <= 1, "codeswitch must be in 0..1");
    MTL_CHECK(task.codeswitch == 0 || (task.translations.offsets != nullptr && task.translations.ids != nullptr),
              "codeswitch needs a translation table");
    if (task.parallel()) {
      MTL_CHECK(task.second_offsets != nullptr, "a parallel task needs the second side's offsets");
      MTL_CHECK(task.second_noise >= 0 && task.second_noise < static_cast<int32_t>(job.noise.size()),
                "parallel task noise index out of range");
    }
  }
  for (const Chunk& chunk : job.chunks) {
    MTL_CHECK(chunk.task >= 0 && chunk.task < static_cast<int32_t>(job.tasks.size()), "chunk task out of range");
    const Task& task = job.tasks[chunk.task];
    MTL_CHECK(0 <= chunk.sentence_begin && chunk.sentence_begin <= chunk.sentence_end &&
                  chunk.sentence_end <= task.n_sentences,
              "chunk sentences out of range");
  }
}

void validate_ids(const TrainJob& job) {
  const int64_t vocab = job.vocab();
  for (const Task& task : job.tasks) {
    check_ids(task.tokens, task.sentence_offsets[task.n_sentences], vocab);
    if (task.codeswitch > 0) check_ids(task.translations.ids, task.translations.offsets[vocab], vocab);
    if (task.parallel()) check_ids(task.second_tokens, task.second_offsets[task.n_sentences], vocab);
  }
  const Subwords& table = job.subwords;
  if (!table.present()) return;
  MTL_CHECK(table.offsets[0] == 0, "subword_offsets must start at 0, got ", table.offsets[0]);
  for (int64_t i = 0; i < table.words; ++i)
    MTL_CHECK(table.offsets[i] < table.offsets[i + 1], "subword_offsets must increase (every word has a row): ",
              table.offsets[i], " then ", table.offsets[i + 1], " at word ", i);
  for (int64_t r = 0; r < table.offsets[table.words]; ++r)
    MTL_CHECK(table.rows[r] >= 0 && table.rows[r] < job.w_in.rows, "subword row ", table.rows[r], " at position ", r,
              " is outside w_in (", job.w_in.rows, " rows)");
}

std::vector<float> subword_mean_gains(const Subwords& table) {
  std::vector<float> gains(table.words);
  std::vector<int32_t> rows;
  for (int64_t w = 0; w < table.words; ++w) {
    rows.assign(table.rows + table.offsets[w], table.rows + table.offsets[w + 1]);
    std::sort(rows.begin(), rows.end());
    int64_t listed = 0;  // sum over the listed rows of how often each is listed
    for (size_t i = 0; i < rows.size();) {
      size_t j = i;
      while (j < rows.size() && rows[j] == rows[i]) ++j;
      listed += int64_t(j - i) * int64_t(j - i);
      i = j;
    }
    gains[w] = static_cast<float>(double(listed) / double(rows.size()));  // validate_ids: every word has a row
  }
  return gains;
}

}  // namespace mtl
