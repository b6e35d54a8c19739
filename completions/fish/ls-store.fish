# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ls_store_global_optspecs
    string join \n mongo= mongo-uri-file= db= collection= critical-level= write-concern= dead-letter= lsn-dir= retain= time-series batch= in-flight= linger-ms= topic= group= from= exit-at-end brokers= X= kafka-config-file= connect-timeout= v/verbose q/quiet log-format= h/help V/version
end

function __fish_ls_store_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ls_store_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ls_store_using_subcommand
    set -l cmd (__fish_ls_store_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ls-store -n "__fish_ls_store_needs_command" -l mongo -d 'MongoDB connection string; credentials in it are never printed' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l mongo-uri-file -d 'Read the connection string from this file (keeps credentials out of argv)' -r -F
complete -c ls-store -n "__fish_ls_store_needs_command" -l db -d 'Database' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l collection -d 'Collection of the records' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l critical-level -d 'Records at this level and above are written in transactions with the consumer\'s progress' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l write-concern -d 'Write concern: `majority`, or a number of members' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l dead-letter -d 'Append documents MongoDB refuses for good here, one JSON line each with the reason' -r -F
complete -c ls-store -n "__fish_ls_store_needs_command" -l lsn-dir -d 'Advance this LSN store after each commit (for `ls-tail | ls-store`)' -r -F
complete -c ls-store -n "__fish_ls_store_needs_command" -l retain -d 'Delete records older than this (a TTL index on timestamp): 30d, 12h, 2w' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l batch -d 'Documents per bulk write' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l in-flight -d 'Bulk writes in flight at once' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l linger-ms -d 'Longest wait, in milliseconds, for a batch to fill before writing it' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l topic -d 'Read records from these Kafka topics (comma-separated or repeated) instead of stdin' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l group -d 'Consumer group: members split the partitions, offsets are committed once output is durable. Without it every partition is read and nothing is committed' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l from -d 'Where to start in partitions this process has not read before [default: stored with --group, beginning without]' -r -f -a "beginning\t'The oldest record still in the topic'
end\t'Only records produced from now on'
stored\t'Where the group last committed (the oldest record when it never did)'"
complete -c ls-store -n "__fish_ls_store_needs_command" -l brokers -d 'Kafka bootstrap servers, host:port[,host:port...]' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -s X -d 'A librdkafka setting, e.g. -X compression.codec=zstd -X security.protocol=SASL_SSL (repeatable; overrides the defaults and the config file)' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l kafka-config-file -d 'A file of librdkafka settings, one key=value per line (# comments): the place for secrets' -r -F
complete -c ls-store -n "__fish_ls_store_needs_command" -l connect-timeout -d 'How long to wait at start for a broker to answer before giving up (later outages are waited out)' -r
complete -c ls-store -n "__fish_ls_store_needs_command" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-store -n "__fish_ls_store_needs_command" -l time-series -d 'Create the collection as a time-series collection (MongoDB 5.0+) if it does not exist'
complete -c ls-store -n "__fish_ls_store_needs_command" -l exit-at-end -d 'Stop at the end of the topic instead of waiting for more records'
complete -c ls-store -n "__fish_ls_store_needs_command" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-store -n "__fish_ls_store_needs_command" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-store -n "__fish_ls_store_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-store -n "__fish_ls_store_needs_command" -s V -l version -d 'Print version'
complete -c ls-store -n "__fish_ls_store_needs_command" -f -a "query" -d 'Prints stored records (JSON lines, oldest first), their count, or counts per level, source or minute'
complete -c ls-store -n "__fish_ls_store_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l since -d 'Only records at or after this time: a duration back from now (15m, 2h) or a time (2026-11-22T10:00Z, RFC 3339)' -r
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l until -d 'Only records before this time (same forms as --since)' -r
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l level -d 'Levels: ERROR+ (ERROR and above), ERROR (only), or WARN,ERROR' -r
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l source -d 'Only records from this source' -r
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l category -d 'Only records of this category' -r
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l grep -d 'Only records whose message matches this regular expression' -r
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l limit -d 'At most this many records' -r
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l stats-by -d 'Print the number of matching records per level, source or minute' -r -f -a "level\t''
source\t''
minute\t''"
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l mongo -d 'MongoDB connection string; credentials in it are never printed' -r
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l mongo-uri-file -d 'Read the connection string from this file (keeps credentials out of argv)' -r -F
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l db -d 'Database' -r
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l collection -d 'Collection of the records' -r
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l count -d 'Print the number of matching records'
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -l table -d 'Print a compact table instead of JSON lines'
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-store -n "__fish_ls_store_using_subcommand query" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-store -n "__fish_ls_store_using_subcommand help; and not __fish_seen_subcommand_from query help" -f -a "query" -d 'Prints stored records (JSON lines, oldest first), their count, or counts per level, source or minute'
complete -c ls-store -n "__fish_ls_store_using_subcommand help; and not __fish_seen_subcommand_from query help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
