#include "metrics/metrics.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RendersCountersHistogramsAndGaugesInTheTextFormat) {
  Metrics metrics;
  metrics.RecordCall("grpc", "/tickets.v1.BookingService/UpdateTicketsStatus", "OK",
                     absl::Milliseconds(3));
  metrics.EventsAccepted(5);
  metrics.EventsPublished(4);
  metrics.LogCommit(4, absl::Microseconds(700));
  metrics.Delivery("StoreTickets", "success");
  metrics.HandlerBatch("StoreTickets", absl::Milliseconds(2));
  metrics.ExternalCall("receipts", "503");
  metrics.AddGauge("booking_queue_depth", "Events queued.", [] { return 7.0; });
  const std::string page = metrics.Render();
  EXPECT_THAT(page, HasSubstr("# TYPE booking_calls_total counter"));
  EXPECT_THAT(
      page,
      HasSubstr(
          R"(booking_calls_total{code="OK",method="/tickets.v1.BookingService/UpdateTicketsStatus",protocol="grpc"} 1)"));
  EXPECT_THAT(
      page,
      HasSubstr(
          R"(booking_call_duration_seconds_bucket{method="/tickets.v1.BookingService/UpdateTicketsStatus",protocol="grpc",le="0.005"} 1)"));
  EXPECT_THAT(
      page,
      HasSubstr(
          R"(booking_call_duration_seconds_bucket{method="/tickets.v1.BookingService/UpdateTicketsStatus",protocol="grpc",le="0.0025"} 0)"));
  EXPECT_THAT(page, HasSubstr(R"(booking_events_total{stage="accepted"} 5)"));
  EXPECT_THAT(page, HasSubstr(R"(booking_events_total{stage="published"} 4)"));
  EXPECT_THAT(page, HasSubstr("booking_log_commit_events_sum 4"));
  EXPECT_THAT(page,
              HasSubstr(R"(booking_deliveries_total{handler="StoreTickets",outcome="success"} 1)"));
  EXPECT_THAT(page, HasSubstr(R"(booking_external_calls_total{api="receipts",status="503"} 1)"));
  EXPECT_THAT(page, HasSubstr("# TYPE booking_queue_depth gauge\nbooking_queue_depth 7\n"));
}

TEST(MetricsTest, ConcurrentRecordingAndScrapingCountEverything) {
  Metrics metrics;
  std::atomic<int> gauge{0};
  metrics.AddGauge("booking_test_gauge", "A value set by the test.",
                   [&gauge] { return gauge.load(); });
  constexpr int kThreads = 4, kCalls = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        metrics.RecordCall("grpc", "/m", i % 2 == 0 ? "OK" : "UNAVAILABLE", absl::Microseconds(i));
        metrics.Delivery(absl::StrCat("handler-", t), "success");
        gauge.store(i);
      }
    });
  }
  std::thread scraper([&] {
    for (int i = 0; i < 50; ++i) EXPECT_THAT(metrics.Render(), HasSubstr("booking_test_gauge"));
  });
  for (std::thread& thread : threads) thread.join();
  scraper.join();
  const std::string page = metrics.Render();
  EXPECT_THAT(
      page, HasSubstr(absl::StrCat(R"(booking_calls_total{code="OK",method="/m",protocol="grpc"} )",
                                   kThreads * kCalls / 2, "\n")));
  EXPECT_THAT(page, HasSubstr(absl::StrCat(
                        R"(booking_call_duration_seconds_count{method="/m",protocol="grpc"} )",
                        kThreads * kCalls, "\n")));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_THAT(page, HasSubstr(absl::StrCat(R"(booking_deliveries_total{handler="handler-)", t,
                                             R"(",outcome="success"} )", kCalls, "\n")));
  }
}

}  // namespace
}  // namespace booking::metrics
