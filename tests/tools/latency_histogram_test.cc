#include "tools/loadgen/latency_histogram.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace booking::loadgen {
namespace {

TEST(LatencyHistogramTest, QuantilesWithinOnePercent) {
  LatencyHistogram histogram;
  for (int64_t v = 1; v <= 100000; ++v) histogram.Record(v);
  EXPECT_EQ(histogram.count(), 100000);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double expected = q * 100000;
    const double got = static_cast<double>(histogram.Quantile(q));
    EXPECT_NEAR(got, expected, expected * 0.01) << q;
  }
  EXPECT_EQ(LatencyHistogram().Quantile(0.5), 0);
}

TEST(LatencyHistogramTest, SmallValuesAreExactAndHugeOnesClamp) {
  LatencyHistogram histogram;
  histogram.Record(3);
  histogram.Record(-5);
  EXPECT_EQ(histogram.Quantile(1.0), 3);
  EXPECT_EQ(histogram.Quantile(0.5), 0);
  histogram.Record(int64_t{1} << 50);
  EXPECT_GE(histogram.Quantile(1.0), (int64_t{1} << 31) - 1) << "clamped to the top bucket";
}

TEST(LatencyHistogramTest, ConcurrentRecordingCountsEverything) {
  LatencyHistogram histogram;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) histogram.Record(i % 5000);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(histogram.count(), 400000);
  EXPECT_NEAR(static_cast<double>(histogram.Quantile(0.5)), 2500, 50);
}

}  // namespace
}  // namespace booking::loadgen
