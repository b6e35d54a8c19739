//! Kafka producer and shared consumer input (issue 5: to be written).
