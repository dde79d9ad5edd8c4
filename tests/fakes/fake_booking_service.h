#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::testing {

// A BookingService for the REST side's tests, on an in-process gRPC server: ListTickets answers
// from pages the test sets, and each WatchTickets call is a stream the test writes to and ends.
// The other RPCs are left UNIMPLEMENTED.
class FakeBookingService final : public tickets::v1::BookingService::CallbackService {
 public:
  // One WatchTickets call, driven by the test. Writes go out one at a time, in order; Finish
  // waits for them. A client that cancels is finished with CANCELLED, as a real service would.
  class Watch {
   public:
    const tickets::v1::WatchTicketsRequest& request() const { return request_; }

    void Send(tickets::v1::TicketStep step) {
      {
        common::MutexLock lock(mu_);
        if (finish_.has_value()) return;
        queue_.push_back(std::move(step));
      }
      Pump();
    }

    void Finish(grpc::Status status) {
      {
        common::MutexLock lock(mu_);
        if (finish_.has_value()) return;
        finish_ = std::move(status);
      }
      Pump();
    }

    // The call was canceled from the client's side (OnCancel), within `timeout`.
    bool AwaitCancelled(absl::Duration timeout = absl::Seconds(10)) {
      common::MutexLock lock(mu_);
      return changed_.AwaitFor(mu_, timeout,
                               [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return cancelled_; });
    }
    bool cancelled() {
      common::MutexLock lock(mu_);
      return cancelled_;
    }

   private:
    friend class FakeBookingService;

    class Reactor final : public grpc::ServerWriteReactor<tickets::v1::TicketStep> {
     public:
      explicit Reactor(std::shared_ptr<Watch> watch) : watch_(std::move(watch)) {}
      void OnWriteDone(bool ok) override { watch_->WriteDone(ok); }
      void OnCancel() override { watch_->Cancelled(); }
      void OnDone() override {
        watch_->Done();
        delete this;
      }
      tickets::v1::TicketStep writing;  // the write in flight

     private:
      const std::shared_ptr<Watch> watch_;
    };

    // Starts the next write, or the finish once nothing is left to write. The reactor's
    // operations are started outside the lock: gRPC may run a reaction on this very thread.
    void Pump() {
      Reactor* reactor = nullptr;
      std::optional<grpc::Status> finish;
      {
        common::MutexLock lock(mu_);
        // OnDone, which ends the reactor, only follows the Finish started here, once.
        if (reactor_ == nullptr || writing_ || finish_started_) return;
        reactor = reactor_;
        if (!queue_.empty()) {
          reactor->writing = std::move(queue_.front());
          queue_.pop_front();
          writing_ = true;
        } else if (finish_.has_value()) {
          finish_started_ = true;
          finish = finish_;
        } else {
          return;
        }
      }
      if (finish.has_value()) {
        reactor->Finish(*finish);
      } else {
        reactor->StartWrite(&reactor->writing);
      }
    }

    void WriteDone(bool ok) {
      {
        common::MutexLock lock(mu_);
        writing_ = false;
        if (!ok) queue_.clear();  // the stream is broken: nothing more will go out
      }
      Pump();
    }

    void Cancelled() {
      {
        common::MutexLock lock(mu_);
        cancelled_ = true;
        queue_.clear();
        if (!finish_.has_value()) finish_ = grpc::Status::CANCELLED;
        changed_.NotifyAll();
      }
      Pump();
    }

    void Done();

    FakeBookingService* service_ = nullptr;
    tickets::v1::WatchTicketsRequest request_;
    common::Mutex mu_;
    common::CondVar changed_;
    Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;  // until OnDone
    std::deque<tickets::v1::TicketStep> queue_ ABSL_GUARDED_BY(mu_);
    std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
    bool writing_ ABSL_GUARDED_BY(mu_) = false;
    bool finish_started_ ABSL_GUARDED_BY(mu_) = false;
    bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  };

  // Page i answers pages[i]; its page token is "page-<i>" (none for the first), and every page
  // but the last names the next one. No pages: one empty page.
  void SetPages(std::vector<std::vector<tickets::v1::Ticket>> pages) {
    common::MutexLock lock(mu_);
    pages_ = std::move(pages);
  }
  // Page `index` answers `status` instead.
  void FailPage(int index, grpc::Status status) {
    common::MutexLock lock(mu_);
    failures_[index] = std::move(status);
  }

  struct ListCall {
    int page_size = 0;
    std::string page_token;
    std::string authorization;  // the call's metadata
  };
  std::vector<ListCall> list_calls() {
    common::MutexLock lock(mu_);
    return list_calls_;
  }

  // The next WatchTickets call opened (in order), within `timeout`; null if none came.
  std::shared_ptr<Watch> AwaitWatch(absl::Duration timeout = absl::Seconds(10)) {
    common::MutexLock lock(mu_);
    if (!changed_.AwaitFor(mu_, timeout, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !opened_.empty();
        })) {
      return nullptr;
    }
    std::shared_ptr<Watch> watch = std::move(opened_.front());
    opened_.pop_front();
    return watch;
  }

  // Every WatchTickets call ended on the server's side (OnDone), within `timeout`.
  bool AwaitWatchesDone(absl::Duration timeout = absl::Seconds(10)) {
    common::MutexLock lock(mu_);
    return changed_.AwaitFor(
        mu_, timeout, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return watching_ == 0; });
  }

  grpc::ServerUnaryReactor* ListTickets(grpc::CallbackServerContext* context,
                                        const tickets::v1::ListTicketsRequest* request,
                                        tickets::v1::ListTicketsResponse* response) override {
    ListCall call;
    call.page_size = request->page_size();
    call.page_token = request->page_token();
    if (auto it = context->client_metadata().find("authorization");
        it != context->client_metadata().end()) {
      call.authorization = std::string(it->second.data(), it->second.size());
    }
    grpc::Status status;
    {
      common::MutexLock lock(mu_);
      list_calls_.push_back(call);
      size_t index = 0;
      absl::string_view token = call.page_token;
      if (!token.empty() && (!absl::ConsumePrefix(&token, "page-") ||
                             !absl::SimpleAtoi(token, &index) || index >= pages_.size())) {
        status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_token: unknown");
      } else if (auto failure = failures_.find(static_cast<int>(index));
                 failure != failures_.end()) {
        status = failure->second;
      } else if (index < pages_.size()) {
        for (const tickets::v1::Ticket& ticket : pages_[index]) *response->add_tickets() = ticket;
        if (index + 1 < pages_.size()) {
          response->set_next_page_token(absl::StrCat("page-", index + 1));
        }
      }
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  // A call whose first ticket id is "refuse" is refused at once (PERMISSION_DENIED, before any
  // header); any other is opened (its headers sent, with a correlation-id) and left to the test.
  grpc::ServerWriteReactor<tickets::v1::TicketStep>* WatchTickets(
      grpc::CallbackServerContext* context,
      const tickets::v1::WatchTicketsRequest* request) override {
    auto watch = std::make_shared<Watch>();
    watch->service_ = this;
    watch->request_ = *request;
    auto* reactor = new Watch::Reactor(watch);
    const bool refuse = request->ticket_ids_size() > 0 && request->ticket_ids(0) == "refuse";
    {
      common::MutexLock lock(watch->mu_);
      watch->reactor_ = reactor;
      if (refuse) {
        watch->finish_ = grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "watch refused");
      }
    }
    {
      common::MutexLock lock(mu_);
      ++watching_;
      if (!refuse) opened_.push_back(watch);
      changed_.NotifyAll();
    }
    if (refuse) {
      watch->Pump();
    } else {
      context->AddInitialMetadata("correlation-id", "watch-correlation");
      reactor->StartSendInitialMetadata();
    }
    return reactor;
  }

 private:
  common::Mutex mu_;
  common::CondVar changed_;
  std::vector<std::vector<tickets::v1::Ticket>> pages_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, grpc::Status> failures_ ABSL_GUARDED_BY(mu_);
  std::vector<ListCall> list_calls_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Watch>> opened_ ABSL_GUARDED_BY(mu_);
  int watching_ ABSL_GUARDED_BY(mu_) = 0;
};

inline void FakeBookingService::Watch::Done() {
  {
    common::MutexLock lock(mu_);
    reactor_ = nullptr;
  }
  common::MutexLock lock(service_->mu_);
  --service_->watching_;
  service_->changed_.NotifyAll();
}

// A stored ticket as ListTickets answers it.
inline tickets::v1::Ticket MakeTicket(const std::string& id) {
  tickets::v1::Ticket ticket;
  ticket.set_ticket_id(id);
  ticket.set_customer_email("ann@example.com");
  ticket.mutable_price()->set_amount("49.90");
  ticket.mutable_price()->set_currency("EUR");
  ticket.set_status("confirmed");
  return ticket;
}

}  // namespace booking::testing
