// EventQueue (moodycamel, lock-free) against a plain mutex-and-deque queue, with 1 to 4
// producers and as many consumers moving events in batches, as the log and the workers do.
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "pipeline/event_queue.h"

namespace booking::benchmarks {
namespace {

// The alternative: one mutex, a deque and a condition variable.
class MutexQueue {
 public:
  bool TryPushAll(std::vector<domain::Event>& events) {
    {
      std::lock_guard lock(mu_);
      for (domain::Event& event : events) items_.push_back(std::move(event));
    }
    events.clear();
    ready_.notify_one();
    return true;
  }
  size_t PopBatch(std::vector<domain::Event>& out, size_t max, absl::Duration timeout) {
    std::unique_lock lock(mu_);
    if (!ready_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                         [&] { return !items_.empty(); })) {
      return 0;
    }
    size_t n = 0;
    for (; n < max && !items_.empty(); ++n) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<domain::Event> items_;
};

constexpr int kEventsPerProducer = 20000;
constexpr size_t kBatch = 8;

template <typename Queue>
void MoveEvents(benchmark::State& state, Queue& queue) {
  const int producers = static_cast<int>(state.range(0));
  const int64_t total = static_cast<int64_t>(producers) * kEventsPerProducer;
  for (auto _ : state) {
    std::atomic<int64_t> consumed{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&] {
        for (int sent = 0; sent < kEventsPerProducer;) {
          std::vector<domain::Event> batch(kBatch);
          for (domain::Event& event : batch) event.id = "5a1f3c9e-0b7d-4e2a-9c11-000000000001";
          if (queue.TryPushAll(batch)) {
            sent += kBatch;
          } else {
            std::this_thread::yield();
          }
        }
      });
      threads.emplace_back([&] {
        std::vector<domain::Event> out;
        while (consumed.load(std::memory_order_relaxed) < total) {
          out.clear();
          consumed += static_cast<int64_t>(queue.PopBatch(out, 64, absl::Milliseconds(1)));
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  state.SetItemsProcessed(state.iterations() * total);
}

void BM_EventQueue(benchmark::State& state) {
  pipeline::EventQueue queue(65536);
  MoveEvents(state, queue);
}
void BM_MutexQueue(benchmark::State& state) {
  MutexQueue queue;
  MoveEvents(state, queue);
}

BENCHMARK(BM_EventQueue)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MutexQueue)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace booking::benchmarks

BENCHMARK_MAIN();
