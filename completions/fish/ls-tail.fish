complete -c ls-tail -l format -d 'Line format' -r -f -a "auto\t'Detect the format of each line'
json\t'JSON objects, one per line, with common keys for the time, level and message'
logfmt\t'`key=value` pairs, values quoted when they hold spaces'
syslog\t'Syslog, RFC 5424 or RFC 3164 (BSD), with or without a `<priority>`'
apache\t'Apache/nginx access logs (common and combined log format) and Apache error logs'
log4j\t'A leading timestamp, a level and a message: log4j, logback, Python logging, Hadoop, Spark, ZooKeeper and alike'
logcat\t'Android logcat, with single-letter levels'
pattern\t'The user `--pattern` regex'
raw\t'No structure: the whole line is the message'"
complete -c ls-tail -l pattern -d 'Regex with named groups (timestamp, level, message, others become extra fields)' -r
complete -c ls-tail -l time-format -d 'strftime format of the timestamps in the lines' -r
complete -c ls-tail -l default-level -d 'Level of lines that carry none' -r
complete -c ls-tail -l tz -d 'Time zone of timestamps without an offset' -r
complete -c ls-tail -l source -d 'The records\' source [default: the host name]' -r
complete -c ls-tail -l category -d 'Category of records no --category-rule matches' -r
complete -c ls-tail -l category-rule -d 'NAME:CONDITION, tried in order: level>=LEVEL, level=LEVEL or file=GLOB (e.g. \'error:level>=ERROR\', \'access:file=*access*\')' -r
complete -c ls-tail -l lsn-dir -d 'The LSN store directory, where positions are kept across restarts' -r -F
complete -c ls-tail -l lsn-commit -d 'Who advances the LSN store: ls-tail after writing, or the next stage once durable' -r -f -a "self\t'ls-tail, after the records are written and flushed to stdout'
downstream\t'The next stage, once the records are durable there; ls-tail only reads positions'"
complete -c ls-tail -l multiline-start -d 'Join lines not matching this regex into the previous record (implies --multiline)' -r
complete -c ls-tail -l multiline-timeout -d 'Seconds after which a pending multi-line record is written if no line follows' -r
complete -c ls-tail -l multiline-max-lines -d 'The most lines joined into one record' -r
complete -c ls-tail -l max-open-files -d 'The most files kept open at once; the least recently active are closed and reopened' -r
complete -c ls-tail -l poll-interval -d 'Seconds between looks at the files when polling' -r
complete -c ls-tail -l rescan-interval -d 'Seconds between listings of the roots with change events (in case events are lost)' -r
complete -c ls-tail -l idle-timeout -d 'Seconds without new data after which a file\'s handle is closed' -r
complete -c ls-tail -l glob -d 'Only files of directories whose name matches one of these globs' -r
complete -c ls-tail -l exclude -d 'Leave out files of directories whose name matches this glob' -r
complete -c ls-tail -l max-line-bytes -d 'The longest message kept from one line or multi-line event, in bytes (longer ones are cut)' -r
complete -c ls-tail -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-tail -l from-start -d 'Read files with no recorded position from their start (the default)'
complete -c ls-tail -l from-end -d 'Skip the current content of files present at start with no recorded position'
complete -c ls-tail -l multiline -d 'Join continuation lines (indented, "Caused by:", "...") into the previous record'
complete -c ls-tail -l poll -d 'Poll instead of using change events (network filesystems)'
complete -c ls-tail -l once -d 'Read what is there, print a summary on stderr and exit'
complete -c ls-tail -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-tail -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-tail -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-tail -s V -l version -d 'Print version'
