# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ls_recover_global_optspecs
    string join \n v/verbose q/quiet log-format= hdfs-timeout= h/help V/version
end

function __fish_ls_recover_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ls_recover_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ls_recover_using_subcommand
    set -l cmd (__fish_ls_recover_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ls-recover -n "__fish_ls_recover_needs_command" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-recover -n "__fish_ls_recover_needs_command" -l hdfs-timeout -d 'Give up on an HDFS call (create, write, read, rename, list...) after this long (as ls-roll --hdfs-timeout)' -r
complete -c ls-recover -n "__fish_ls_recover_needs_command" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-recover -n "__fish_ls_recover_needs_command" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-recover -n "__fish_ls_recover_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-recover -n "__fish_ls_recover_needs_command" -s V -l version -d 'Print version'
complete -c ls-recover -n "__fish_ls_recover_needs_command" -f -a "spool" -d 'Import the files ls-roll spooled while the archive was down; exit 1 if any are left'
complete -c ls-recover -n "__fish_ls_recover_needs_command" -f -a "replay" -d 'Read archived files back as JSON-lines records on stdout (or into Kafka with --to-kafka), in time order per file'
complete -c ls-recover -n "__fish_ls_recover_needs_command" -f -a "lsn" -d 'Inspect and repair an LSN store'
complete -c ls-recover -n "__fish_ls_recover_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand spool" -l spool -d 'The spool directory (ls-roll\'s --spool)' -r -F
complete -c ls-recover -n "__fish_ls_recover_using_subcommand spool" -l to -d 'The archive: hdfs://namenode:port/path, file:///dir or a directory' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand spool" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-recover -n "__fish_ls_recover_using_subcommand spool" -l hdfs-timeout -d 'Give up on an HDFS call (create, write, read, rename, list...) after this long (as ls-roll --hdfs-timeout)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand spool" -l dry-run -d 'List what would be imported (path and bytes) and change nothing'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand spool" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand spool" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand spool" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l since -d 'Only records at or after this time (RFC 3339, a date, or an age like 15m, 2h, 7d)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l until -d 'Only records before this time' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l level -d 'Only records at or above this level' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l source -d 'Only records from this source' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l category -d 'Only records of this category' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l grep -d 'Only records whose message matches this regular expression' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l topic-template -d 'With --to-kafka: the topic for each record; {category} is replaced by the record\'s category' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l key-field -d 'With --to-kafka: the record field used as the message key: source, id, category or an extra field' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l brokers -d 'Kafka bootstrap servers, host:port[,host:port...]' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -s X -d 'A librdkafka setting, e.g. -X compression.codec=zstd -X security.protocol=SASL_SSL (repeatable; overrides the defaults and the config file)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l kafka-config-file -d 'A file of librdkafka settings, one key=value per line (# comments): the place for secrets' -r -F
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l connect-timeout -d 'How long to wait at start for a broker to answer before giving up (later outages are waited out)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l hdfs-timeout -d 'Give up on an HDFS call (create, write, read, rename, list...) after this long (as ls-roll --hdfs-timeout)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -l to-kafka -d 'Publish the records to Kafka as ls-ship does (topic by category, key, id and origin headers) instead of printing them; exit 1 if any is not delivered'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand replay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -l lsn-dir -d 'The LSN store directory' -r -F
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -l hdfs-timeout -d 'Give up on an HDFS call (create, write, read, rename, list...) after this long (as ls-roll --hdfs-timeout)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -f -a "show" -d 'Show every tracked file: identity, line, offset, last update, path'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -f -a "verify" -d 'Check each position against its file on disk; exit 1 if any cannot be resumed'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -f -a "compact" -d 'Compact the buffer into the LSN file (drops torn and corrupt entries)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -f -a "set" -d 'Move a file\'s position to a given line, forwards or backwards'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -f -a "forget" -d 'Stop tracking files'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and not __fish_seen_subcommand_from show verify compact set forget help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from show" -l lsn-dir -d 'The LSN store directory' -r -F
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from show" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from show" -l hdfs-timeout -d 'Give up on an HDFS call (create, write, read, rename, list...) after this long (as ls-roll --hdfs-timeout)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from show" -l json -d 'JSON lines instead of a table'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from verify" -l lsn-dir -d 'The LSN store directory' -r -F
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from verify" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from verify" -l hdfs-timeout -d 'Give up on an HDFS call (create, write, read, rename, list...) after this long (as ls-roll --hdfs-timeout)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from verify" -l json -d 'JSON lines instead of a table'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from compact" -l lsn-dir -d 'The LSN store directory' -r -F
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from compact" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from compact" -l hdfs-timeout -d 'Give up on an HDFS call (create, write, read, rename, list...) after this long (as ls-roll --hdfs-timeout)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from compact" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from compact" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from compact" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from set" -l lsn -d 'The last line to count as done: reading resumes at the line after it (0: from the start)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from set" -l file -d 'The file to locate the line in, when not the path the store recorded' -r -F
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from set" -l lsn-dir -d 'The LSN store directory' -r -F
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from set" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from set" -l hdfs-timeout -d 'Give up on an HDFS call (create, write, read, rename, list...) after this long (as ls-roll --hdfs-timeout)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from set" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from forget" -l lsn-dir -d 'The LSN store directory' -r -F
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from forget" -l log-format -d 'Form of diagnostics on stderr: text for people, json for log collectors' -r -f -a "text\t'`ls-tail: warning: message`'
json\t'`{"time":...,"tool":"ls-tail","level":"warn","message":...}`'"
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from forget" -l hdfs-timeout -d 'Give up on an HDFS call (create, write, read, rename, list...) after this long (as ls-roll --hdfs-timeout)' -r
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from forget" -l missing -d 'Also forget every file that no longer exists at its recorded path'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from forget" -s v -l verbose -d 'Say more on stderr (-v: info, -vv: debug, -vvv: trace)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from forget" -s q -l quiet -d 'Say only errors on stderr'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from forget" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show every tracked file: identity, line, offset, last update, path'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check each position against its file on disk; exit 1 if any cannot be resumed'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from help" -f -a "compact" -d 'Compact the buffer into the LSN file (drops torn and corrupt entries)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from help" -f -a "set" -d 'Move a file\'s position to a given line, forwards or backwards'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from help" -f -a "forget" -d 'Stop tracking files'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand lsn; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand help; and not __fish_seen_subcommand_from spool replay lsn help" -f -a "spool" -d 'Import the files ls-roll spooled while the archive was down; exit 1 if any are left'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand help; and not __fish_seen_subcommand_from spool replay lsn help" -f -a "replay" -d 'Read archived files back as JSON-lines records on stdout (or into Kafka with --to-kafka), in time order per file'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand help; and not __fish_seen_subcommand_from spool replay lsn help" -f -a "lsn" -d 'Inspect and repair an LSN store'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand help; and not __fish_seen_subcommand_from spool replay lsn help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand help; and __fish_seen_subcommand_from lsn" -f -a "show" -d 'Show every tracked file: identity, line, offset, last update, path'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand help; and __fish_seen_subcommand_from lsn" -f -a "verify" -d 'Check each position against its file on disk; exit 1 if any cannot be resumed'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand help; and __fish_seen_subcommand_from lsn" -f -a "compact" -d 'Compact the buffer into the LSN file (drops torn and corrupt entries)'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand help; and __fish_seen_subcommand_from lsn" -f -a "set" -d 'Move a file\'s position to a given line, forwards or backwards'
complete -c ls-recover -n "__fish_ls_recover_using_subcommand help; and __fish_seen_subcommand_from lsn" -f -a "forget" -d 'Stop tracking files'
