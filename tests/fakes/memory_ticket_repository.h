#pragma once

#include <map>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "storage/ticket_repository.h"

namespace booking::testing {

// TicketRepository in memory, with the same newest-event-wins rule, and a switch to fail.
class MemoryTicketRepository final : public storage::TicketRepository {
 public:
  absl::Status Upsert(absl::Span<const domain::Ticket> records) override {
    std::lock_guard lock(mu_);
    ++upsert_calls_;
    if (!fail_with_.ok()) return fail_with_;
    for (const domain::Ticket& record : records) {
      auto it = rows_.find(record.ticket_id);
      if (it != rows_.end() && it->second.last_event_sequence >= record.last_event_sequence) {
        continue;
      }
      rows_[record.ticket_id] = record;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<domain::Ticket> Get(std::string_view ticket_id) override {
    std::lock_guard lock(mu_);
    if (!fail_with_.ok()) return fail_with_;
    auto it = rows_.find(std::string(ticket_id));
    if (it == rows_.end())
      return absl::NotFoundError(absl::StrCat("ticket ", std::string(ticket_id), " not found"));
    return it->second;
  }

  absl::StatusOr<std::vector<domain::Ticket>> ListActive(std::string_view after,
                                                         int limit) override {
    std::lock_guard lock(mu_);
    if (!fail_with_.ok()) return fail_with_;
    std::vector<domain::Ticket> out;
    for (auto it = rows_.upper_bound(std::string(after));
         it != rows_.end() && static_cast<int>(out.size()) < limit; ++it) {
      if (it->second.status != "canceled") out.push_back(it->second);
    }
    return out;
  }

  absl::StatusOr<int64_t> MaxEventSequence() override {
    std::lock_guard lock(mu_);
    int64_t max = 0;
    for (const auto& [id, row] : rows_) max = std::max(max, row.last_event_sequence);
    return max;
  }

  void FailWith(absl::Status status) {
    std::lock_guard lock(mu_);
    fail_with_ = std::move(status);
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return rows_.size();
  }
  int upsert_calls() {
    std::lock_guard lock(mu_);
    return upsert_calls_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, domain::Ticket> rows_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_with_ ABSL_GUARDED_BY(mu_);
  int upsert_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace booking::testing
