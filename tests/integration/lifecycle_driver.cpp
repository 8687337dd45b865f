// The LifecycleWatcher on its own, with a drain that takes as long as the
// test says (the collector's own drain, finishing files, takes milliseconds):
// for heartbeats during a long drain and a drain that misses its deadline.
// Every log line goes to stdout; "drain started", "drain ended" and
// "terminating" mark the callbacks. Runs until SIGTERM or SIGINT.
//   lifecycle_driver HOOK GROUP ENDPOINT REGION POLL_S HEARTBEAT_S DRAIN_DEADLINE_S DRAIN_TAKES_MS
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include "collector/lifecycle.hpp"

using namespace mirrortap;

int main(int argc, char** argv) {
    if (argc != 9) {
        std::cerr << "usage: lifecycle_driver HOOK GROUP ENDPOINT REGION POLL_S HEARTBEAT_S DRAIN_DEADLINE_S DRAIN_TAKES_MS\n";
        return 2;
    }
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    static std::mutex out;
    auto say = [](const std::string& line) {
        std::lock_guard lock(out);
        std::cout << line << std::endl;
    };
    LifecycleConfig config;
    config.hook_name = argv[1];
    config.group_name = argv[2];
    config.endpoint = argv[3];
    config.region = argv[4];
    config.poll_seconds = static_cast<uint32_t>(std::atoi(argv[5]));
    config.heartbeat_seconds = static_cast<uint32_t>(std::atoi(argv[6]));
    config.drain_seconds = static_cast<uint32_t>(std::atoi(argv[7]));
    const auto takes = std::chrono::milliseconds(std::atoi(argv[8]));

    LifecycleWatcher watcher({.config = config,
                              .on_terminating = [&] { say("terminating"); },
                              .drain =
                                  [&](std::chrono::steady_clock::time_point deadline) {
                                      say("drain started");
                                      const auto done_at = std::chrono::steady_clock::now() + takes;
                                      std::this_thread::sleep_until(std::min(done_at, deadline));
                                      const bool done = done_at <= deadline;
                                      say(done ? "drain ended" : "drain missed its deadline");
                                      return done;
                                  },
                              .log = say});
    if (auto started = watcher.start(); !started) {
        say("error: " + started.error());
        return 1;
    }
    say("watching");
    int signal = 0;
    sigwait(&stop_signals, &signal);
    watcher.stop();
    say("stopped");
    return 0;
}
