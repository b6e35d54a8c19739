//! Kafka: the flags every Kafka-facing tool shares ([`args`]), the consumer behind the shared
//! record input ([`consumer`], used through [`crate::input`]).

pub mod args;
pub mod consumer;
