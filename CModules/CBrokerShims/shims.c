#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>

#include "CBrokerShims.h"

int broker_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
