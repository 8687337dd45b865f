// What a thread the program starts for itself does first: it takes no
// signal (the process's handlers run on the main thread, which waits for
// them) and carries a name that top and /proc show.
#pragma once
#include <pthread.h>
#include <signal.h>

namespace mirrortap {

// `name`: at most 15 characters (the kernel's limit).
inline void block_signals_and_name(const char* name) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    pthread_setname_np(pthread_self(), name);
}

}  // namespace mirrortap
