//! Setting a record's extra fields from formats with a fixed set of fields (syslog, access logs)
//! without allocating on every line.
//!
//! Consecutive lines of one file usually carry the same keys, so when the record's extras hold
//! exactly the keys of this line, the values are overwritten in place and their string buffers
//! reused.

use serde_json::{Map, Value};

/// A field value from a line.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    Text(&'a [u8]),
    Int(i64),
}

impl Field<'_> {
    fn to_value(self) -> Value {
        match self {
            Field::Text(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
            Field::Int(n) => Value::from(n),
        }
    }
}

/// Makes `extra` hold exactly the present (`Some`) fields.
pub fn set(extra: &mut Map<String, Value>, fields: &[(&str, Option<Field>)]) {
    let present = fields.iter().filter(|(_, value)| value.is_some()).count();
    if extra.len() == present && overwrite_in_place(extra, fields) {
        return;
    }
    extra.clear();
    for (key, value) in fields {
        if let Some(value) = value {
            extra.insert((*key).to_string(), value.to_value());
        }
    }
}

/// Overwrites every entry of `extra` with the present field of the same key; false when some
/// entry has none (the caller then rebuilds the map). Walks the map rather than looking keys up:
/// a short scan of static keys is cheaper than hashing each one.
fn overwrite_in_place(extra: &mut Map<String, Value>, fields: &[(&str, Option<Field>)]) -> bool {
    for (key, slot) in extra.iter_mut() {
        let Some(value) = fields
            .iter()
            .find(|(name, _)| name == key)
            .and_then(|(_, value)| *value)
        else {
            return false;
        };
        match (slot, value) {
            (Value::String(text), Field::Text(bytes)) => super::set_text(text, bytes),
            (slot, value) => *slot = value.to_value(),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_the_previous_line_do_not_linger() {
        let mut extra = Map::new();
        set(
            &mut extra,
            &[
                ("host", Some(Field::Text(b"a"))),
                ("pid", Some(Field::Int(3))),
            ],
        );
        set(
            &mut extra,
            &[
                ("host", Some(Field::Text(b"b"))),
                ("pid", Some(Field::Int(4))),
            ],
        );
        assert_eq!(
            Value::Object(extra.clone()),
            serde_json::json!({"host": "b", "pid": 4})
        );
        set(
            &mut extra,
            &[("host", Some(Field::Text(b"c"))), ("pid", None)],
        );
        assert_eq!(Value::Object(extra), serde_json::json!({"host": "c"}));
    }
}
