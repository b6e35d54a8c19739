//! Rolling archive files, local and HDFS, and the spool (issue 8: to be written).
