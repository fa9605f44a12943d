#ifndef CRDKAFKA_SHIM_H
#define CRDKAFKA_SHIM_H
/* rdkafka.h must come first: rdkafka_mock.h relies on its types. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
