// The one way this library runs code on several threads (training workers,
// the tokenizer's parts, the bindings' training thread).
//
// Threads starts workers and always joins them (in its destructor at the
// latest). The first exception of any worker is kept and rethrown by
// rethrow(); it also sets the shared `stop` flag, which workers poll to end
// early. A thread that cannot start (std::system_error: too many threads, no
// memory) becomes such an error too, never a std::terminate.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common.h"

namespace mtl {

class Threads {
 public:
  explicit Threads(std::atomic<bool>& stop) : stop_(stop) {}
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;
  // Leaving early (an exception on the owning thread): ask the workers to stop, then wait for them.
  ~Threads() {
    if (!threads_.empty()) stop_.store(true);
    join();
  }

  // Starts fn() on a new thread, or keeps why it could not start.
  template <class Fn>
  void spawn(Fn fn) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++running_;
    }
    try {
      threads_.emplace_back([this, fn = std::move(fn)] {
        run(fn);
        std::lock_guard<std::mutex> lock(mutex_);
        if (--running_ == 0) ended_.notify_all();
      });
    } catch (const std::exception& error) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --running_;
      }
      keep(std::make_exception_ptr(std::runtime_error(
          concat("could not start thread ", threads_.size() + 1, " (", error.what(), "); use fewer threads"))));
    }
  }

  // Runs fn() here, keeping its exception as a worker's.
  template <class Fn>
  void run(const Fn& fn) noexcept {
    try {
      fn();
    } catch (...) {
      keep(std::current_exception());
    }
  }

  // True once every spawned thread has ended; waits at most `seconds`.
  bool wait_for(double seconds) {
    std::unique_lock<std::mutex> lock(mutex_);
    return ended_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return running_ == 0; });
  }

  void join() {
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

  bool failed() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<bool>(error_);
  }

  // Joins, then rethrows the first error.
  void rethrow() {
    join();
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void keep(std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = error;
    stop_.store(true);
  }

  std::atomic<bool>& stop_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable ended_;
  int running_ = 0;
  std::exception_ptr error_;
};

// Runs fn(worker) for worker in [0, workers): worker 0 on the calling thread,
// the others on new threads. Returns once all have ended; rethrows the first
// error (after which `stop` is set, so the others can end early).
template <class Fn>
void run_workers(int workers, std::atomic<bool>& stop, const Fn& fn) {
  Threads threads(stop);
  for (int w = 1; w < workers && !stop.load(); ++w) threads.spawn([&fn, w] { fn(w); });
  if (!threads.failed()) threads.run([&fn] { fn(0); });
  threads.rethrow();
}

// Calls fn(i) for every i in [0, n), spread over up to `threads` workers.
template <class Fn>
void parallel_for(int threads, int64_t n, const Fn& fn) {
  std::atomic<bool> stop{false};
  const int workers = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  run_workers(workers, stop, [&](int w) {
    for (int64_t i = w; i < n && !stop.load(std::memory_order_relaxed); i += workers) fn(i);
  });
}

}  // namespace mtl
