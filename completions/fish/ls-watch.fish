complete -c ls-watch -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-watch -l topic -d 'Read records from these Kafka topics (comma-separated or repeated) instead of stdin' -r
complete -c ls-watch -l group -d 'Consumer group: members split the partitions, offsets are committed once output is durable. Without it every partition is read and nothing is committed' -r
complete -c ls-watch -l from -d 'Where to start in partitions this process has not read before [default: stored with --group, beginning without]' -r -f -a "beginning\t'The oldest record still in the topic'
end\t'Only records produced from now on'
stored\t'Where the group last committed (the oldest record when it never did)'"
complete -c ls-watch -l brokers -d 'Kafka bootstrap servers, host:port[,host:port...]' -r
complete -c ls-watch -s X -d 'A librdkafka setting, e.g. -X compression.codec=zstd -X security.protocol=SASL_SSL (repeatable; overrides the defaults and the config file)' -r
complete -c ls-watch -l kafka-config-file -d 'A file of librdkafka settings, one key=value per line (# comments): the place for secrets' -r -F
complete -c ls-watch -l connect-timeout -d 'How long to wait at start for a broker to answer before giving up (later outages are waited out)' -r
complete -c ls-watch -l rules -d 'JSON rules file (see the rules module docs for the format)' -r -F
complete -c ls-watch -l threshold -d 'A threshold rule: \'ERROR+ >100 in 1m [sliding|tumbling] [by source,category] [category=NAME] [source=NAME]\'. Repeatable' -r
complete -c ls-watch -l critical-at -d 'An immediate critical alert for every record at or above this level' -r
complete -c ls-watch -l absent -d 'An absence rule: \'5m [by source] [LEVEL] [category=NAME] [source=NAME]\'. Repeatable' -r
complete -c ls-watch -l realert -d 'Do not repeat an alert for the same rule and group within this interval [default: 5m for threshold and absence rules, 0 for immediate ones]' -r
complete -c ls-watch -l lateness -d 'How far out of order records may arrive; older ones are counted as late' -r
complete -c ls-watch -l alerts -d 'Append alerts to this file' -r -F
complete -c ls-watch -l alerts-topic -d 'Also produce each alert to this Kafka topic (acks=all, keyed by the alert name), on --brokers; an alert not delivered within -X message.timeout.ms (30 s) is reported and ls-watch exits 1 at the end' -r
complete -c ls-watch -l exec-concurrency -d 'Commands running at once for --exec' -r
complete -c ls-watch -l exec-timeout -d 'Kill an --exec command still running after this long' -r
complete -c ls-watch -l stats -d 'Write per-level / source / category rates to stderr at this interval' -r
complete -c ls-watch -l stats-format -d 'Form of --stats [default: live on a terminal, text otherwise]' -r -f -a "text\t'One line of text per interval'
json\t'One JSON object per line'
live\t'A table redrawn in place (for a terminal)'"
complete -c ls-watch -l exec -d 'Run this command for every alert, with the alert JSON on its stdin; never through a shell. Takes the rest of the command line: put it last' -r
complete -c ls-watch -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-watch -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-watch -l exit-at-end -d 'Stop at the end of the topic instead of waiting for more records'
complete -c ls-watch -l processing-time -d 'Count records at the time they are read, not at their timestamps'
complete -c ls-watch -l backtest -d 'Run over history at full speed on event time only, then decide what is open at the end. The default when stdin is a regular file'
complete -c ls-watch -l live -d 'Run live (the wall clock closes windows on an idle input) even when stdin is a file'
complete -c ls-watch -l tee -d 'Pass the records through to stdout; alerts go to --alerts or stderr'
complete -c ls-watch -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-watch -s V -l version -d 'Print version'
