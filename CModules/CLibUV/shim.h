#ifndef CLIBUV_SHIM_H
#define CLIBUV_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <uv.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <pthread.h>

/* CPU_ZERO/CPU_SET are macros Swift cannot call: pins the calling thread to one CPU. */
static inline int broker_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
#endif
