#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/token_authenticator.h"
#include "server/query_executor.h"
#include "storage/event_store.h"
#include "storage/handler_registry.h"
#include "tickets/v1/admin.grpc.pb.h"

namespace booking::server {

// tickets.v1.AdminService: dead letters read and sent back, handlers replayed and retired, on
// the query executor; handler status there too (its lag may need a count in the database).
class AdminService final : public tickets::v1::AdminService::CallbackService {
 public:
  // With `auth`, every admin call needs an accepted bearer token.
  AdminService(storage::EventStore& store, QueryExecutor& executor,
               const api::TokenAuthenticator* auth = nullptr)
      : store_(store), executor_(executor), auth_(auth) {}

  // Where GetHandlerStatus reads from (this instance's handler lanes); set before serving.
  using StatusFn = std::function<tickets::v1::GetHandlerStatusResponse()>;
  void set_handler_status(StatusFn status) { handler_status_ = std::move(status); }

  // Where RetireHandler retires, and the handlers configured on this instance, which it
  // refuses to retire; set before serving (without it, RetireHandler is UNIMPLEMENTED).
  void set_handler_registry(storage::HandlerRegistry& registry,
                            std::vector<std::string> configured) {
    registry_ = &registry;
    configured_ = std::move(configured);
  }

  grpc::ServerUnaryReactor* GetHandlerStatus(
      grpc::CallbackServerContext* context, const tickets::v1::GetHandlerStatusRequest* request,
      tickets::v1::GetHandlerStatusResponse* response) override;

  grpc::ServerUnaryReactor* ListDeadLetters(
      grpc::CallbackServerContext* context, const tickets::v1::ListDeadLettersRequest* request,
      tickets::v1::ListDeadLettersResponse* response) override;

  grpc::ServerUnaryReactor* RetryDeadLetters(
      grpc::CallbackServerContext* context, const tickets::v1::RetryDeadLettersRequest* request,
      tickets::v1::RetryDeadLettersResponse* response) override;

  grpc::ServerUnaryReactor* ReplayHandler(grpc::CallbackServerContext* context,
                                          const tickets::v1::ReplayHandlerRequest* request,
                                          tickets::v1::ReplayHandlerResponse* response) override;

  grpc::ServerUnaryReactor* RetireHandler(grpc::CallbackServerContext* context,
                                          const tickets::v1::RetireHandlerRequest* request,
                                          tickets::v1::RetireHandlerResponse* response) override;

  // Most events one ReplayHandler call may schedule.
  static constexpr int64_t kMaxReplayEvents = 1'000'000;

 private:
  // Every admin call needs a token with the admin scope when tokens are configured.
  [[nodiscard]] absl::Status CheckAdmin(const grpc::CallbackServerContext& context) const;

  storage::EventStore& store_;
  QueryExecutor& executor_;
  const api::TokenAuthenticator* const auth_;
  StatusFn handler_status_;
  storage::HandlerRegistry* registry_ = nullptr;
  std::vector<std::string> configured_;
};

}  // namespace booking::server
