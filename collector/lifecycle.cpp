#include "collector/lifecycle.hpp"

#include <future>
#include <memory>
#include <optional>

#include "cloud/autoscaling.hpp"
#include "cloud/credentials.hpp"
#include "cloud/imds.hpp"
#include "cloud/query_api.hpp"
#include "support/own_thread.hpp"
#include "support/text.hpp"

namespace mirrortap {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

// The thread's state: what it found out, and the clients it talks through.
class LifecycleWatcher::Run {
public:
    Run(LifecycleWatcher& owner, cloud::ImdsSettings imds, std::unique_ptr<cloud::CredentialSource> credentials)
        : owner_(owner),
          config_(owner.watch_.config),
          imds_(std::make_shared<cloud::ImdsClient>(std::move(imds))),
          credentials_(std::make_shared<cloud::CredentialProvider>(std::move(credentials))) {}

    void operator()() {
        block_signals_and_name("mt-lifecycle");
        while (!stopping()) {
            auto state = imds_->target_lifecycle_state();
            if (!state) {
                note_unreadable(state.error());
            } else {
                note_state(state.value());
                if (state.value() == "Terminated") {
                    terminate();
                    return;
                }
            }
            sleep(std::chrono::seconds(config_.poll_seconds));
        }
    }

private:
    bool stopping() const { return owner_.stopping_.load(); }
    void log(const std::string& line) const { owner_.watch_.log("lifecycle: " + line); }

    // Sleeps `d` or until stop(); false when stopped.
    bool sleep(Clock::duration d) {
        std::unique_lock lock(owner_.mutex_);
        return !owner_.wake_.wait_for(lock, d, [&] { return stopping(); });
    }

    void note_unreadable(const cloud::AwsError& e) {
        // 404: IMDS has no such item, so the instance is in no Auto Scaling group.
        const std::string what = e.http_status == 404
                                     ? "not in an Auto Scaling group (IMDS has no autoscaling/target-lifecycle-state): "
                                       "nothing to do on scale-in"
                                     : "cannot read the target lifecycle state (" + e.describe() + "); trying again every " +
                                           std::to_string(config_.poll_seconds) + " s";
        if (what != last_said_) log(what);
        last_said_ = what;
    }

    void note_state(const std::string& state) {
        const std::string what = "target lifecycle state " + quote(state);
        if (what != last_said_) log(what + (state == "Terminated" ? "" : "; watching for Terminated"));
        last_said_ = what;
    }

    // Which action to complete, and the client that completes it. Until both
    // the instance id and the region are known it answers nullopt, having said why.
    std::optional<cloud::LifecycleAction> action() {
        auto instance = imds_->instance_id();
        if (!instance) {
            log("cannot read the instance id: " + instance.error().describe());
            return std::nullopt;
        }
        if (!client_) {
            std::string region = config_.region;
            if (region.empty()) {
                auto found = cloud::default_region(owner_.watch_.env);
                if (!found) {
                    log("no region for Auto Scaling: " + found.error().describe());
                    return std::nullopt;
                }
                region = found.value();
            }
            const Result<std::string> endpoint =
                config_.endpoint.empty() ? cloud::autoscaling_endpoint(region) : config_.endpoint;
            if (!endpoint) {
                log(endpoint.error());
                return std::nullopt;
            }
            cloud::AutoScalingOptions options;
            options.endpoint = *endpoint;
            options.region = region;
            options.cancel = &owner_.stopping_;
            client_ = std::make_unique<cloud::AutoScalingClient>(std::move(options), credentials_);
        }
        return cloud::LifecycleAction{config_.group_name, config_.hook_name, instance.value()};
    }

    void terminate() {
        if (owner_.watch_.on_terminating) owner_.watch_.on_terminating();
        const Clock::time_point deadline = Clock::now() + std::chrono::seconds(config_.drain_seconds);
        log("the group is terminating this instance: /readyz is 503; finishing files, then completing hook " +
            quote(config_.hook_name) + " of group " + quote(config_.group_name) + " (within " +
            std::to_string(config_.drain_seconds) + " s)");
        std::packaged_task<bool()> task([&drain = owner_.watch_.drain, deadline] {
            block_signals_and_name("mt-lc-drain");
            return drain ? drain(deadline) : true;
        });
        std::future<bool> drained = task.get_future();
        std::thread drainer(std::move(task));

        // Found while the drain runs: heartbeats and the completion need it.
        std::optional<cloud::LifecycleAction> target = action();
        const auto heartbeat = std::chrono::seconds(config_.heartbeat_seconds);
        Clock::time_point next_heartbeat = Clock::now() + heartbeat;
        uint64_t heartbeats = 0;
        while (drained.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready && !stopping()) {
            if (Clock::now() < next_heartbeat) continue;
            next_heartbeat = Clock::now() + heartbeat;  // whatever happens next, tried again a heartbeat later
            if (!target) target = action();
            if (!target) continue;
            const auto sent = client_->record_lifecycle_action_heartbeat(*target);
            if (sent) ++heartbeats;
            else log("heartbeat failed: " + sent.error().describe());
            // From the answer: a slow one does not bunch the next heartbeats up.
            next_heartbeat = Clock::now() + heartbeat;
        }
        // The drain is bounded by its deadline; it is waited for even when stopping.
        const bool safe = drained.get();
        drainer.join();
        if (stopping()) {
            log("stopped while draining: the lifecycle action is left to the hook's timeout");
            return;
        }
        if (!safe) {
            log("the drain did not end by its deadline: not completing, the hook's timeout ends the wait");
            return;
        }
        log("drained" + (heartbeats ? " (" + std::to_string(heartbeats) + " heartbeats)" : std::string()) +
            "; completing the lifecycle action");
        // Until it is done or the drain's deadline: the instance should not wait for the hook's timeout.
        while (!stopping()) {
            if (!target) target = action();
            if (target) {
                const auto done = client_->complete_lifecycle_action(*target, "CONTINUE");
                if (done) {
                    log("completed the lifecycle action (CONTINUE) for " + quote(target->instance_id));
                    return;
                }
                log("CompleteLifecycleAction failed: " + done.error().describe());
                if (!done.error().retryable) return;
            }
            if (Clock::now() >= deadline || !sleep(std::chrono::seconds(config_.poll_seconds))) break;
        }
        log("gave up completing the lifecycle action: the hook's timeout ends the wait");
    }

    LifecycleWatcher& owner_;
    const LifecycleConfig& config_;
    std::shared_ptr<cloud::ImdsClient> imds_;
    std::shared_ptr<cloud::CredentialProvider> credentials_;
    std::unique_ptr<cloud::AutoScalingClient> client_;
    std::string last_said_;  // the last state or problem logged: each is said once
};

LifecycleWatcher::LifecycleWatcher(LifecycleWatch watch) : watch_(std::move(watch)) {
    if (!watch_.log) watch_.log = [](const std::string&) {};
}

LifecycleWatcher::~LifecycleWatcher() { stop(); }

Result<> LifecycleWatcher::start() {
    if (!watch_.config.enabled() || thread_.joinable()) return {};
    // The SDKs' endpoint variables, when the config names none.
    if (watch_.config.endpoint.empty()) {
        const auto from_env = cloud::endpoint_from_environment(watch_.env, "AUTO_SCALING");
        if (!from_env) return fail("lifecycle: " + from_env.error());
        watch_.config.endpoint = *from_env;
    }
    const auto imds = cloud::imds_settings_from_environment(watch_.env);
    if (!imds) return fail("lifecycle: " + imds.error());
    if (!*imds) {
        watch_.log("lifecycle: instance metadata is disabled (AWS_EC2_METADATA_DISABLED): not watching for scale-in");
        return {};
    }
    auto credentials = cloud::choose_credential_source(watch_.env);
    if (!credentials) return fail("lifecycle: " + credentials.error());
    thread_ = std::thread([run = std::make_shared<Run>(*this, **imds, std::move(*credentials))] { (*run)(); });
    return {};
}

void LifecycleWatcher::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace mirrortap
