#include "millrace/registry/registry.h"

#include <asio/post.hpp>

#include "millrace/common/http.h"
#include "millrace/common/security.h"
#include "service.h"

namespace millrace::registry {
namespace {

using config::value_kind;

class registry_component final : public component {
public:
    explicit registry_component(component_context& ctx)
        : ctx_(ctx), server_(ctx.io, "registry") {}

    std::string name() const override { return "registry"; }

    result<std::optional<net::endpoint>> start() override {
        service_options options;
        options.bootstrap = services::kafka_bootstrap(ctx_);
        options.kafka_properties = security::kafka_client_properties(ctx_.cfg);
        options.topic = ctx_.cfg.get_string("registry.topic");
        options.replication_factor = static_cast<int>(ctx_.cfg.get_int("registry.topic_replication_factor"));
        options.default_compatibility = ctx_.cfg.get_string("registry.compatibility");
        options.kafka_timeout_ms = ctx_.cfg.get_int("registry.kafka_timeout");
        service_ = std::make_unique<service>(std::move(options), ctx_.metrics);
        service_->add_routes(server_);
        auto ep = server_.start(ctx_.cfg.get_string("registry.host"), ctx_.cfg.get_port("registry.port"), "registry.port");
        if (!ep) return ep.err();
        service_->start();
        return std::optional<net::endpoint>(*ep);
    }

    void stop() override {
        // The service first: it answers what is queued (503). Those answers are posted to
        // this thread, so the listener closes two turns later, after they are written.
        if (service_) service_->stop();
        asio::post(ctx_.io, [this] { asio::post(ctx_.io, [this] { server_.stop(); }); });
    }

private:
    component_context& ctx_;
    http::server server_;
    std::unique_ptr<service> service_;
};

}  // namespace

void add_options(config::schema& s) {
    s.add({"registry.topic", value_kind::string, "_schemas", "Compacted Kafka topic that stores every schema, config and mode."});
    s.add({"registry.topic_replication_factor", value_kind::integer, "1", "Replication factor used when the registry creates its topic.",
           {}, 1, 32});
    s.add({"registry.compatibility", value_kind::choice, "BACKWARD",
           "Compatibility level used when neither the global nor the subject config sets one.",
           {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}});
    s.add({"registry.kafka_timeout", value_kind::duration_ms, "30s",
           "How long one write to the topic, or one read of it at start, may take before it fails.", {}, 1000, 600'000});
}

std::unique_ptr<component> make_registry(component_context& ctx) { return std::make_unique<registry_component>(ctx); }

}  // namespace millrace::registry
