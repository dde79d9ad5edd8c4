#include "server/call_observer.h"

#include "grpc/health/v1/health.pb.h"
#include "gtest/gtest.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::server {
namespace {

TEST(MethodLabelTest, OnlyMethodsOfServicesInThisBinaryKeepTheirName) {
  // Linked in, as in the server (a protobuf file registers itself when its code is used).
  ASSERT_NE(tickets::v1::UpdateTicketsStatusRequest::descriptor(), nullptr);
  ASSERT_NE(grpc::health::v1::HealthCheckRequest::descriptor(), nullptr);
  EXPECT_EQ(MethodLabel("/tickets.v1.BookingService/UpdateTicketsStatus"),
            "/tickets.v1.BookingService/UpdateTicketsStatus");
  EXPECT_EQ(MethodLabel("/grpc.health.v1.Health/Check"), "/grpc.health.v1.Health/Check");
  for (const char* made_up :
       {"/tickets.v1.BookingService/Nope", "/made.up.Service/Method", "/x", "/", "", "no-slash",
        "/tickets.v1.BookingService/", "/tickets.v1.BookingService"}) {
    EXPECT_EQ(MethodLabel(made_up), "unknown") << made_up;
  }
}

}  // namespace
}  // namespace booking::server
