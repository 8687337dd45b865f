// Scale-in without losing captures. In an Auto Scaling group with a
// termination lifecycle hook, the group tells an instance it is going by
// setting IMDS's meta-data/autoscaling/target-lifecycle-state to Terminated,
// and then waits for the hook: until someone calls CompleteLifecycleAction,
// or the hook's heartbeat timeout runs out. The LifecycleWatcher is that
// someone. On its thread ("mt-lifecycle") it reads the state every
// poll_seconds; on Terminated it
//   1. calls on_terminating (the exporter's /readyz turns 503, with why),
//   2. runs `drain` (on a thread of its own, "mt-lc-drain") until it returns
//      or drain_seconds pass, sending RecordLifecycleActionHeartbeat every
//      heartbeat_seconds meanwhile so that the hook's timeout does not end it,
//   3. and, when the drain says everything is safe, CompleteLifecycleAction
//      with CONTINUE, so the instance goes as soon as its data is safe.
// A drain that fails or runs out of time is not completed: the hook's timeout
// ends the wait, which is as late as the instance can go.
// Outside a group (IMDS has no target-lifecycle-state: 404) or with IMDS
// disabled, it does nothing and says so once.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/result.hpp"
#include "cloud/environment.hpp"
#include "config/config.hpp"

namespace mirrortap {

// Until `deadline`: true once everything the instance holds is safe (files
// finished; with an uploader, uploaded), false when it is not by then.
using DrainFunction = std::function<bool(std::chrono::steady_clock::time_point deadline)>;

struct LifecycleWatch {
    LifecycleConfig config;
    cloud::EnvLookup env = cloud::process_environment();  // AWS_* settings (IMDS, credentials, region)
    std::function<void()> on_terminating;                  // any thread may read what it sets
    DrainFunction drain;
    std::function<void(const std::string&)> log;           // one line, no newline
};

class LifecycleWatcher {
public:
    explicit LifecycleWatcher(LifecycleWatch watch);
    ~LifecycleWatcher();  // stop()
    LifecycleWatcher(const LifecycleWatcher&) = delete;
    LifecycleWatcher& operator=(const LifecycleWatcher&) = delete;

    // Starts the thread, or says why not (a malformed AWS_* setting, no
    // credential source): a configured hook that cannot work is refused at
    // start, not found out at scale-in. With IMDS disabled there is nothing
    // to watch: it says so and starts no thread.
    Result<> start();
    // Stops polling and any request under way, waits for a drain in progress
    // to return (it is bounded by its deadline), and joins the thread. The
    // lifecycle action is then left to the hook's timeout.
    void stop();

private:
    class Run;
    LifecycleWatch watch_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
};

}  // namespace mirrortap
