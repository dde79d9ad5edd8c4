#include "pipeline/router.h"

#include <mutex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::pipeline {
namespace {

class RecordingHandler final : public domain::Handler {
 public:
  explicit RecordingHandler(std::string name, std::string fail_id = "",
                            absl::StatusCode failure = absl::StatusCode::kInvalidArgument)
      : name_(std::move(name)), fail_id_(std::move(fail_id)), failure_(failure) {}
  std::string_view name() const override { return name_; }
  absl::Status Handle(absl::Span<const domain::Event* const> events) override {
    std::lock_guard lock(mu_);
    batch_sizes_.push_back(events.size());
    for (const domain::Event* event : events) {
      if (event->id == fail_id_) return absl::Status(failure_, "boom");
    }
    for (const domain::Event* event : events) handled_.push_back(event->id);
    return absl::OkStatus();
  }
  std::vector<std::string> handled() {
    std::lock_guard lock(mu_);
    return handled_;
  }
  std::vector<size_t> batch_sizes() {
    std::lock_guard lock(mu_);
    return batch_sizes_;
  }

 private:
  const std::string name_;
  const std::string fail_id_;
  const absl::StatusCode failure_;
  std::mutex mu_;
  std::vector<std::string> handled_ ABSL_GUARDED_BY(mu_);
  std::vector<size_t> batch_sizes_ ABSL_GUARDED_BY(mu_);
};

domain::Event MakeEvent(std::string id, std::string type) {
  domain::Event event;
  event.id = std::move(id);
  event.type = std::move(type);
  return event;
}

TEST(RouterTest, RunsEveryHandlerOfTheTypeWithOneBatch) {
  RecordingHandler store("Store"), receipt("Receipt"), refund("Refund");
  Router router;
  router.Register("Confirmed", &store);
  router.Register("Confirmed", &receipt);
  router.Register("Canceled", &refund);
  std::vector<domain::Event> events = {MakeEvent("1", "Confirmed"), MakeEvent("2", "Canceled"),
                                       MakeEvent("3", "Confirmed")};
  std::vector<HandlerResult> results = router.Dispatch(events);
  EXPECT_EQ(results.size(), 5u) << "one per (event, handler)";
  EXPECT_TRUE(Router::Failed(std::move(results)).empty());
  EXPECT_THAT(store.handled(), ::testing::ElementsAre("1", "3"));
  EXPECT_THAT(store.batch_sizes(), ::testing::ElementsAre(2u));
  EXPECT_THAT(receipt.handled(), ::testing::ElementsAre("1", "3"));
  EXPECT_THAT(refund.handled(), ::testing::ElementsAre("2"));
}

TEST(RouterTest, PermanentFailureIsSplitInHalvesAndOnlyTheBadEventFails) {
  RecordingHandler store("Store", /*fail_id=*/"2");
  Router router;
  router.Register("Confirmed", &store);
  std::vector<domain::Event> events;
  for (int i = 0; i < 8; ++i) events.push_back(MakeEvent(std::to_string(i), "Confirmed"));
  std::vector<HandlerResult> failed = Router::Failed(router.Dispatch(events));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].event->id, "2");
  EXPECT_EQ(failed[0].handler, "Store");
  EXPECT_TRUE(absl::IsInvalidArgument(failed[0].status));
  EXPECT_THAT(store.handled(), ::testing::ElementsAre("0", "1", "3", "4", "5", "6", "7"));
  // 8; the bad half 4 (then 2 + 2, then 1 + 1 of the bad quarter); the good half 4.
  EXPECT_THAT(store.batch_sizes(), ::testing::ElementsAre(8u, 4u, 2u, 2u, 1u, 1u, 4u));
}

TEST(RouterTest, RetryableFailureFailsTheBatchWithoutCallingAgain) {
  RecordingHandler store("Store", /*fail_id=*/"2", absl::StatusCode::kUnavailable);
  Router router;
  router.Register("Confirmed", &store);
  std::vector<domain::Event> events = {MakeEvent("1", "Confirmed"), MakeEvent("2", "Confirmed"),
                                       MakeEvent("3", "Confirmed")};
  std::vector<HandlerResult> failed = Router::Failed(router.Dispatch(events));
  EXPECT_EQ(failed.size(), 3u);
  EXPECT_THAT(store.batch_sizes(), ::testing::ElementsAre(3u)) << "no storm of single retries";
}

TEST(RouterTest, UnroutedEventIsReported) {
  Router router;
  std::vector<domain::Event> events = {MakeEvent("1", "Unknown")};
  std::vector<HandlerResult> failed = router.Dispatch(events);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_TRUE(absl::IsNotFound(failed[0].status));
}

TEST(RouterTest, ClaimedDeliveryRunsOnlyItsHandler) {
  RecordingHandler store("Store"), receipt("Receipt");
  Router router;
  router.Register("Confirmed", &store);
  router.Register("Confirmed", &receipt);
  std::vector<domain::Event> events = {MakeEvent("1", "Confirmed")};
  events[0].handler = "Receipt";
  std::vector<HandlerResult> results = router.Dispatch(events);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].handler, "Receipt");
  EXPECT_TRUE(store.handled().empty());
  EXPECT_THAT(receipt.handled(), ::testing::ElementsAre("1"));
  events[0].handler = "Gone";
  EXPECT_TRUE(absl::IsNotFound(router.Dispatch(events).at(0).status));
  EXPECT_TRUE(router.HandlersFor("Unknown").empty());
}

}  // namespace
}  // namespace booking::pipeline
