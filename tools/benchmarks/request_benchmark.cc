// The per-call CPU work of UpdateTicketsStatus: validation and event building, for 1 and 100
// tickets; and the REST gateway's share: the compatibility body transcoded into the request.
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>

#include "domain/event_factory.h"
#include "rest/json_transcoder.h"
#include "server/request_validator.h"
#include "tickets/v1/booking.pb.h"

namespace booking::benchmarks {
namespace {

tickets::v1::UpdateTicketsStatusRequest Request(int tickets) {
  tickets::v1::UpdateTicketsStatusRequest request;
  for (int i = 0; i < tickets; ++i) {
    auto* ticket = request.add_tickets();
    char id[37];
    std::snprintf(id, sizeof(id), "5a1f3c9e-0b7d-4e2a-9c11-%012d", i);
    ticket->set_ticket_id(id);
    ticket->set_status("confirmed");
    ticket->set_customer_email("ann@example.com");
    ticket->mutable_price()->set_amount("49.90");
    ticket->mutable_price()->set_currency("EUR");
  }
  return request;
}

void BM_Validate(benchmark::State& state) {
  const auto request = Request(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(server::ValidateRequest(request, {}));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Validate)->Arg(1)->Arg(100);

void BM_BuildEvents(benchmark::State& state) {
  const auto request = Request(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(domain::BuildEvents(request, "key", "correlation", absl::Now()));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BuildEvents)->Arg(1)->Arg(100);

void BM_TranscodeCompatBody(benchmark::State& state) {
  auto transcoder = *rest::JsonTranscoder::Create(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
      {tickets::v1::UpdateTicketsStatusRequest::descriptor()->file()->FindServiceByName(
          "BookingService")},
      absl::Seconds(1));
  http::Request request;
  request.method = "POST";
  request.target = "/tickets-status";
  request.content_type = "application/json";
  request.body =
      R"({"tickets":[{"ticket_id":"5a1f3c9e-0b7d-4e2a-9c11-3b1f0c2d4e5f","status":"confirmed",)"
      R"("customer_email":"ann@example.com","price":{"amount":"50.30","currency":"EUR"}}]})";
  for (auto _ : state) {
    std::vector<std::pair<std::string, std::string>> bindings;
    std::vector<std::string> allowed;
    const rest::JsonTranscoder::Route* route =
        transcoder->Find(request.method, request.target, &bindings, &allowed);
    tickets::v1::UpdateTicketsStatusRequest input;
    benchmark::DoNotOptimize(transcoder->BuildInput(*route, request, bindings, input));
    std::string bytes;
    input.SerializeToString(&bytes);
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_TranscodeCompatBody);

}  // namespace
}  // namespace booking::benchmarks

BENCHMARK_MAIN();
