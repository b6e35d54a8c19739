complete -c ls-roll -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-roll -l topic -d 'Read records from these Kafka topics (comma-separated or repeated) instead of stdin' -r
complete -c ls-roll -l group -d 'Consumer group: members split the partitions, offsets are committed once output is durable. Without it every partition is read and nothing is committed' -r
complete -c ls-roll -l from -d 'Where to start in partitions this process has not read before [default: stored with --group, beginning without]' -r -f -a "beginning\t'The oldest record still in the topic'
end\t'Only records produced from now on'
stored\t'Where the group last committed (the oldest record when it never did)'"
complete -c ls-roll -l brokers -d 'Kafka bootstrap servers, host:port[,host:port...]' -r
complete -c ls-roll -s X -d 'A librdkafka setting, e.g. -X compression.codec=zstd -X security.protocol=SASL_SSL (repeatable; overrides the defaults and the config file)' -r
complete -c ls-roll -l kafka-config-file -d 'A file of librdkafka settings, one key=value per line (# comments): the place for secrets' -r -F
complete -c ls-roll -l connect-timeout -d 'How long to wait at start for a broker to answer before giving up (later outages are waited out)' -r
complete -c ls-roll -l out -d 'Where the archive goes: hdfs://namenode:port/path, file:///dir or a directory' -r
complete -c ls-roll -l max-size -d 'Size trigger: close a file once it holds this many bytes' -r
complete -c ls-roll -l tz -d 'Zone of the dates in file names and of the day boundary' -r
complete -c ls-roll -l roll-every -d 'Also roll every file that has been open this long (e.g. 1h)' -r
complete -c ls-roll -l format -d 'What a line of an archive file holds' -r -f -a "jsonl\t'The records as JSON lines (`.jsonl`)'
raw\t'The raw messages, one per line (`.log`)'"
complete -c ls-roll -l sync-interval -d 'Sync (fsync / hsync) written records at least this often' -r
complete -c ls-roll -l by -d 'Date records by their timestamp (event) or by when they arrive (arrival)' -r -f -a "event\t'The date of the record\'s timestamp'
arrival\t'The date it arrives at ls-roll'"
complete -c ls-roll -l spool -d 'Local directory that takes the records while the archive fails; import it with `ls-recover spool`' -r -F
complete -c ls-roll -l probe-every -d 'How often to try the archive again while spooling' -r
complete -c ls-roll -l alerts -d 'Append alert lines (JSON) to this file instead of stderr' -r -F
complete -c ls-roll -l hdfs-timeout -d 'Give up on an HDFS call (write, hsync, create, rename...) after this long and treat it as an outage: the records go to the spool' -r
complete -c ls-roll -l idle-close -d 'Close files that received nothing for this long (frees HDFS leases)' -r
complete -c ls-roll -l lsn-dir -d 'LSN store to advance, for records read from tailed files, once they are synced' -r -F
complete -c ls-roll -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-roll -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-roll -l exit-at-end -d 'Stop at the end of the topic instead of waiting for more records'
complete -c ls-roll -l gzip -d 'Compress each file as one gzip member (.gz)'
complete -c ls-roll -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-roll -s V -l version -d 'Print version'
