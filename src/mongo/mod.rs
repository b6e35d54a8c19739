//! MongoDB storage and queries (issue 6: to be written).
