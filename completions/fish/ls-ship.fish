complete -c ls-ship -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-ship -l brokers -d 'Kafka bootstrap servers, host:port[,host:port...]' -r
complete -c ls-ship -s X -d 'A librdkafka setting, e.g. -X compression.codec=zstd -X security.protocol=SASL_SSL (repeatable; overrides the defaults and the config file)' -r
complete -c ls-ship -l kafka-config-file -d 'A file of librdkafka settings, one key=value per line (# comments): the place for secrets' -r -F
complete -c ls-ship -l connect-timeout -d 'How long to wait at start for a broker to answer before giving up (later outages are waited out)' -r
complete -c ls-ship -l topic-template -d 'Topic for each record; {category} is replaced by the record\'s category' -r
complete -c ls-ship -l key-field -d 'Record field used as the message key (records with one key stay in order): source, id, category or an extra field' -r
complete -c ls-ship -l lsn-dir -d 'LSN store to advance to the last line of each file whose delivery Kafka confirmed (with ls-tail --lsn-commit downstream)' -r -F
complete -c ls-ship -l dead-letter -d 'File that receives, as JSON lines, the records Kafka refuses for good (too large, topic denied)' -r -F
complete -c ls-ship -l max-in-flight -d 'Records sent and not yet acknowledged, at most: beyond it ls-ship stops reading stdin' -r
complete -c ls-ship -l topic -d 'Read records from these Kafka topics (comma-separated or repeated) instead of stdin' -r
complete -c ls-ship -l group -d 'Consumer group: members split the partitions, offsets are committed once output is durable. Without it every partition is read and nothing is committed' -r
complete -c ls-ship -l from -d 'Where to start in partitions this process has not read before [default: stored with --group, beginning without]' -r -f -a "beginning\t'The oldest record still in the topic'
end\t'Only records produced from now on'
stored\t'Where the group last committed (the oldest record when it never did)'"
complete -c ls-ship -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-ship -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-ship -l consume -d 'Print the records of --topic as JSON lines instead of shipping'
complete -c ls-ship -l exit-at-end -d 'Stop at the end of the topic instead of waiting for more records'
complete -c ls-ship -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-ship -s V -l version -d 'Print version'
