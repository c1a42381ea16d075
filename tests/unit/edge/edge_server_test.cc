#include "edge/edge_server.h"

#include <gtest/gtest.h>

namespace tether {
namespace {

TEST(EdgeServer, ConnectionsPerSourceIpAreCapped) {
  EdgeConfig config;
  config.max_connections_per_ip = 2;
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    EdgeServer server(&loop, config);
    EXPECT_TRUE(server.AdmitConnection("10.0.0.1"));
    EXPECT_TRUE(server.AdmitConnection("10.0.0.1"));
    EXPECT_FALSE(server.AdmitConnection("10.0.0.1"));
    EXPECT_TRUE(server.AdmitConnection("10.0.0.2"));  // another source is unaffected
    server.ReleaseConnection("10.0.0.1");
    EXPECT_TRUE(server.AdmitConnection("10.0.0.1"));
    EXPECT_FALSE(server.AdmitConnection("10.0.0.1"));
  }
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(EdgeServer, UnlimitedByDefault) {
  EdgeConfig config;
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    EdgeServer server(&loop, config);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(server.AdmitConnection("10.0.0.1"));
  }
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(EdgeServer, RequestIdsAreUnique) {
  EdgeConfig config;
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    EdgeServer server(&loop, config);
    std::string a = server.NewRequestId(), b = server.NewRequestId();
    EXPECT_NE(a, b);
    EXPECT_EQ(a.rfind("req_", 0), 0u);
  }
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace tether
