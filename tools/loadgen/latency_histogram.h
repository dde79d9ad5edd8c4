#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace booking::loadgen {

// HdrHistogram-style latency buckets: exact below 256 µs, then 128 sub-buckets per power of two
// (under 1% error), up to about 70 minutes. Recording is one relaxed atomic add, from any thread;
// memory is fixed, whatever the number of samples.
class LatencyHistogram {
 public:
  void Record(int64_t micros) {
    buckets_[Index(micros < 0 ? 0 : micros)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  int64_t count() const { return count_.load(std::memory_order_relaxed); }

  // The smallest recorded value v such that a fraction `q` of samples are <= v (upper bucket
  // bound), in microseconds; 0 without samples.
  int64_t Quantile(double q) const {
    const int64_t total = count();
    if (total == 0) return 0;
    const int64_t rank = static_cast<int64_t>(q * static_cast<double>(total) + 0.5);
    int64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen >= rank && seen > 0) return UpperBound(i);
    }
    return UpperBound(kBuckets - 1);
  }

 private:
  static constexpr int kLinear = 256;    // exact values below this
  static constexpr int kSubBits = 7;     // 128 sub-buckets per doubling
  static constexpr int kDoublings = 24;  // 256 µs * 2^24 ≈ 70 minutes
  static constexpr size_t kBuckets = kLinear + (kDoublings << kSubBits);

  static size_t Index(int64_t v) {
    if (v < kLinear) return static_cast<size_t>(v);
    const int top = 63 - __builtin_clzll(static_cast<uint64_t>(v));  // >= 8
    const int doubling = top - 8;
    if (doubling >= kDoublings) return kBuckets - 1;
    const int64_t sub = (v >> (top - kSubBits)) & ((1 << kSubBits) - 1);
    return kLinear + (static_cast<size_t>(doubling) << kSubBits) + static_cast<size_t>(sub);
  }

  static int64_t UpperBound(size_t index) {
    if (index < kLinear) return static_cast<int64_t>(index);
    const size_t rest = index - kLinear;
    const int doubling = static_cast<int>(rest >> kSubBits);
    const int64_t sub = static_cast<int64_t>(rest & ((1 << kSubBits) - 1));
    const int top = doubling + 8;
    return ((int64_t{1} << top) | ((sub + 1) << (top - kSubBits))) - 1;
  }

  std::array<std::atomic<int64_t>, kBuckets> buckets_{};
  std::atomic<int64_t> count_{0};
};

}  // namespace booking::loadgen
