"""The run's Kafka topics (all named with the run's prefix, deleted at cleanup: the test broker
keeps topics in memory) and consumer group progress, through kafka-python."""

import logging

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError

from .measure import CLEANUP, BenchError

logging.getLogger("kafka").setLevel(logging.CRITICAL)  # its connection chatter is not ours


class Kafka:
    def __init__(self, brokers, prefix):
        self.prefix = prefix
        try:
            self._admin = KafkaAdminClient(bootstrap_servers=brokers, client_id=prefix)
            self._consumer = KafkaConsumer(bootstrap_servers=brokers, client_id=prefix)
        except KafkaError as error:
            raise BenchError(f"no Kafka broker at {brokers} ({error}): scripts/services up kafka") from error
        CLEANUP.push("close the Kafka clients", self.close)
        CLEANUP.push(f"delete the topics {prefix}*", self.delete_topics)

    def create(self, topics, partitions):
        self._admin.create_topics([NewTopic(t, partitions, 1) for t in topics])

    def delete_topics(self):
        """Deletes every topic of this run."""
        topics = [t for t in self._admin.list_topics() if t.startswith(self.prefix)]
        if topics:
            self._admin.delete_topics(topics)

    def caught_up(self, group, topics):
        """Whether `group` has committed offsets at the end of every partition of `topics`."""
        partitions = [TopicPartition(topic, p) for topic in topics
                      for p in self._consumer.partitions_for_topic(topic) or ()]
        ends = self._consumer.end_offsets(partitions)
        committed = self._admin.list_consumer_group_offsets(group)
        return all((committed[tp].offset if tp in committed else 0) >= end for tp, end in ends.items())

    def close(self):
        self._consumer.close()
        self._admin.close()
