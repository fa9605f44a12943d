// kafka-mock: librdkafka's mock cluster (a real Kafka-protocol server on 127.0.0.1) for the
// integration tests. Prints the bootstrap address on the first line of stdout, then obeys one
// command per line on stdin until EOF:
//   topic NAME PARTITIONS   create a topic
//   fail N                  fail the next N produce requests (NOT_ENOUGH_REPLICAS, retriable)
//   down | up               take the broker down or bring it back
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", error);
        return 1;
    }
    rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, 1);
    if (!cluster) {
        fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
        return 1;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
    char line[1024];
    while (fgets(line, sizeof line, stdin)) {
        char name[512];
        int count = 0;
        if (sscanf(line, "topic %511s %d", name, &count) == 2) {
            rd_kafka_mock_topic_create(cluster, name, count, 1);
        } else if (sscanf(line, "fail %d", &count) == 1 && count > 0) {
            rd_kafka_resp_err_t *errors = calloc((size_t)count, sizeof *errors);
            for (int i = 0; i < count; i++) errors[i] = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS;
            rd_kafka_mock_push_request_errors_array(cluster, 0 /* ProduceRequest */, (size_t)count, errors);
            free(errors);
        } else if (strncmp(line, "down", 4) == 0) {
            rd_kafka_mock_broker_set_down(cluster, 1);
        } else if (strncmp(line, "up", 2) == 0) {
            rd_kafka_mock_broker_set_up(cluster, 1);
        } else {
            fprintf(stderr, "kafka-mock: unknown command: %s", line);
            continue;
        }
        printf("ok\n");
    }
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(rk);
    return 0;
}
