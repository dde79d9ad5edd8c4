#pragma once

#include "server/query_executor.h"
#include "storage/event_store.h"
#include "tickets/v1/admin.grpc.pb.h"

namespace booking::server {

// tickets.v1.AdminService: dead letters, read and sent back, on the query executor.
class AdminService final : public tickets::v1::AdminService::CallbackService {
 public:
  AdminService(storage::EventStore& store, QueryExecutor& executor)
      : store_(store), executor_(executor) {}

  grpc::ServerUnaryReactor* ListDeadLetters(
      grpc::CallbackServerContext* context, const tickets::v1::ListDeadLettersRequest* request,
      tickets::v1::ListDeadLettersResponse* response) override;

  grpc::ServerUnaryReactor* RetryDeadLetters(
      grpc::CallbackServerContext* context, const tickets::v1::RetryDeadLettersRequest* request,
      tickets::v1::RetryDeadLettersResponse* response) override;

 private:
  storage::EventStore& store_;
  QueryExecutor& executor_;
};

}  // namespace booking::server
