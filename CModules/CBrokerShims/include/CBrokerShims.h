#ifndef CBROKER_SHIMS_H
#define CBROKER_SHIMS_H
/* C functions for what Swift cannot reach. Declared here without feature macros, so that this
 * header can be imported next to any other module: _GNU_SOURCE in a module's header changes
 * fd_set from <sys/select.h> and makes the modules disagree. */

/* Pins the calling thread to one CPU (CPU_ZERO/CPU_SET are macros). Returns 0 or an errno. */
int broker_pin_current_thread(int cpu);

#endif
