//! Alert rules and their evaluation (issue 7: to be written).
