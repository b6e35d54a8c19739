//! Line parsing: a raw log line into the parts of a record (issue 2: to be written).
