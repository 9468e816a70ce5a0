// CBOW with subwords through a window cache (TrainParams::cbow_window_cache).
//
// The exact step reads every row of every context word of a center (its own and its n-grams', ~20 a
// word) and adds the center's gradient to each: ~120 rows read and written per center at window 5,
// which bind the kernel to moving rows between L2 and L1 (benchmarks/results/subwords-kernel.md).
// Here a context position's input vector, its word's mean of rows, is composed once into a slot of this
// cache, when a span of centers that can reach it begins (prefetching the rows of the positions ahead
// gained nothing measurable: benchmarks/results/subwords-cbow-window.md). Each center's hidden vector is
// the weighted sum of its contexts' means (weights: each word's rows over all the center's rows, so it
// equals the exact mean of all rows), its gradient accumulates in each context slot's owed vector, and the
// slot's mean moves by the gradient times the word's mean gain, as its rows will. When no later center can
// reach the position, or the sentence ends, the owed gradient is added once to each of the word's rows
// (undivided, as the exact step adds it). Per center: ~20 rows read and written instead of ~120.
//
// What a slot misses until it is released: the gradients the other positions' slots owe to rows it
// shares (the same word elsewhere in the window, a shared n-gram bucket) and other threads' writes,
// Hogwild's kind of staleness, for at most the centers of a span (cbow_share windows) and the window
// on each side. Word2vec's reduced window only picks which cached positions a center reads: the draws,
// and so the centers' contexts, are those of the exact step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../sgns.h"
#include "ops.h"

namespace mtl::cpu {

class CbowWindow {
 public:
  // `positions`: how many positions are usually cached at once (the storage grows past it if need be);
  // `max_contexts`: the most contexts of one step; `max_word_rows`: the most rows of one word.
  CbowWindow(const Ops& ops, const TrainJob& job, int64_t dim, int positions, int max_contexts, int max_word_rows)
      : ops_(ops), job_(job), dim_(dim), rows_(max_word_rows), means_(max_contexts),
        owed_(max_contexts), weights_(max_contexts), gains_(max_contexts) {
    reserve(positions);
  }

  // A new sequence of contexts (a sentence, or the other side of a parallel pair): nothing cached.
  void start(const std::vector<int32_t>& sequence) {
    sequence_ = &sequence;
    slot_at_.assign(sequence.size(), -1);
    released_ = composed_ = 0;
  }

  // Composes the positions up to `last` (included) not composed yet.
  void compose_through(size_t last) {
    const std::vector<int32_t>& ids = *sequence_;
    for (last = std::min(last + 1, ids.size()); composed_ < last; ++composed_) compose(composed_, ids[composed_]);
  }

  // Adds the owed gradient of every cached position before `end` to its word's rows, frees its slot.
  void release_before(size_t end) {
    for (end = std::min(end, slot_at_.size()); released_ < end; ++released_) {
      const int s = slot_at_[released_];
      if (s < 0) continue;
      ops_.add_to_rows(rows_.data(), word_rows(word_[s]), owed(s), dim_);
      free_.push_back(s);
    }
  }
  void release_all() { release_before(slot_at_.size()); }

  // The step's view of its contexts, composed: context c lies at position at[c]; center i's contexts
  // end at context_ends[i].
  CbowCache gather(const int32_t* at, const int* context_ends, int n_centers) {
    for (int i = 0, c = 0; i < n_centers; ++i) {
      const int begin = c;
      int64_t center_rows = 0;
      for (; c < context_ends[i]; ++c) center_rows += n_rows_[slot_at_[at[c]]];
      for (c = begin; c < context_ends[i]; ++c) {
        const int s = slot_at_[at[c]];
        means_[c] = mean(s);
        owed_[c] = owed(s);
        weights_[c] = static_cast<float>(n_rows_[s]) / static_cast<float>(center_rows);
        gains_[c] = job_.subwords.mean_gains[word_[s]];
      }
    }
    return CbowCache{means_.data(), owed_.data(), weights_.data(), gains_.data()};
  }

 private:
  const Ops& ops_;
  const TrainJob& job_;
  const int64_t dim_;
  const std::vector<int32_t>* sequence_ = nullptr;
  std::vector<float> storage_;    // slot s: its mean, then its owed gradient (dim floats each)
  float* base_ = nullptr;         // storage_'s first 64-byte boundary
  int capacity_ = 0;              // slots that fit
  std::vector<int32_t> word_;     // per slot
  std::vector<int> n_rows_;       // per slot: its word's rows
  std::vector<int> free_;         // released slots, reused last in first out (warm in the cache)
  std::vector<int> slot_at_;      // per position of the sequence: its slot, -1 if none
  size_t released_ = 0;           // positions before this are released
  size_t composed_ = 0;           // positions before this are composed
  std::vector<float*> rows_;      // one word's rows
  std::vector<float*> means_, owed_;
  std::vector<float> weights_, gains_;

  float* mean(int s) const { return base_ + int64_t(s) * 2 * dim_; }
  float* owed(int s) const { return mean(s) + dim_; }

  // Puts word `id`'s rows in rows_; returns how many.
  int word_rows(int32_t id) { return job_.word_rows(id, rows_.data()); }

  void compose(size_t position, int32_t id) {
    int& s = slot_at_[position];
    if (free_.empty()) {
      if (int(word_.size()) == capacity_) reserve(2 * capacity_);
      free_.push_back(static_cast<int>(word_.size()));
      word_.push_back(0);
      n_rows_.push_back(0);
    }
    s = free_.back();
    free_.pop_back();
    word_[s] = id;
    n_rows_[s] = word_rows(id);
    ops_.mean_rows(mean(s), rows_.data(), n_rows_[s], dim_);
    std::memset(owed(s), 0, dim_ * sizeof(float));
  }

  // Room for `slots` slots, keeping those in use.
  void reserve(int slots) {
    if (slots <= capacity_) return;
    constexpr int64_t kAlign = 64 / sizeof(float);
    std::vector<float> grown(int64_t(slots) * 2 * dim_ + kAlign);
    const int64_t misaligned = reinterpret_cast<uintptr_t>(grown.data()) / sizeof(float) % kAlign;
    float* const aligned = grown.data() + (kAlign - misaligned) % kAlign;
    if (base_) std::memcpy(aligned, base_, word_.size() * 2 * dim_ * sizeof(float));
    storage_.swap(grown);
    base_ = aligned;
    capacity_ = slots;
  }
};

}  // namespace mtl::cpu
