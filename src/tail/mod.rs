//! Tailing files (issue 4: to be written).
