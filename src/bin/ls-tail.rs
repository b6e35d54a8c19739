//! ls-tail: follow log files, directories and globs through rotation, and write one JSON record
//! per line on stdout, resuming after a restart exactly where it stopped (see `logsphere::tail`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use logsphere::cli::{self, CommonArgs, Shutdown};
use logsphere::parse::{Format, ParserConfig};
use logsphere::record::{Category, Level};
use logsphere::tail::category::{CategoryRule, CategoryRules};
use logsphere::tail::checkpoint::CommitMode;
use logsphere::tail::glob::Glob;
use logsphere::tail::multiline::MultilineConfig;
use logsphere::tail::{self, TailConfig};

const EXAMPLES: &str = "\
Examples:
  ls-tail /var/log/app | ls-watch --tee | ls-roll --out ./archive
  ls-tail --lsn-dir /var/lib/logsphere/lsn --lsn-commit downstream /var/log/nginx \\
    | ls-ship --brokers kafka:9092 --lsn-dir /var/lib/logsphere/lsn
  ls-tail --once --from-start --category-rule 'error:level>=ERROR' '/var/log/app/*.log' > batch.jsonl";

/// Follow log files through rotation and write one JSON record per line on stdout.
///
/// PATH is a file (which may not exist yet), a directory (its files, not descended into) or a
/// glob with wildcards in the file name (quote it). Positions are kept in the LSN store given
/// by --lsn-dir, so that a restart resumes at the exact line.
#[derive(Debug, clap::Parser)]
#[command(name = "ls-tail", version, after_help = EXAMPLES)]
struct Args {
    /// Files, directories or globs to follow.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Line format.
    #[arg(long, value_enum, default_value = "auto")]
    format: Format,

    /// Regex with named groups (timestamp, level, message, others become extra fields).
    #[arg(long)]
    pattern: Option<String>,

    /// strftime format of the timestamps in the lines.
    #[arg(long)]
    time_format: Option<String>,

    /// Level of lines that carry none.
    #[arg(long, default_value = "INFO")]
    default_level: Level,

    /// Time zone of timestamps without an offset.
    #[arg(long, default_value = "UTC", value_parser = time_zone)]
    tz: chrono_tz::Tz,

    /// The records' source [default: the host name].
    #[arg(long)]
    source: Option<String>,

    /// Category of records no --category-rule matches.
    #[arg(long, default_value = Category::DEFAULT)]
    category: Category,

    /// NAME:CONDITION, tried in order: level>=LEVEL, level=LEVEL or file=GLOB
    /// (e.g. 'error:level>=ERROR', 'access:file=*access*').
    #[arg(long = "category-rule", value_name = "RULE")]
    category_rules: Vec<CategoryRule>,

    /// The LSN store directory, where positions are kept across restarts.
    #[arg(long, env = "LOGSPHERE_LSN_DIR")]
    lsn_dir: Option<PathBuf>,

    /// Who advances the LSN store: ls-tail after writing, or the next stage once durable.
    #[arg(long, value_enum, default_value = "self")]
    lsn_commit: CommitMode,

    /// Read files with no recorded position from their start (the default).
    #[arg(long, conflicts_with = "from_end")]
    from_start: bool,

    /// Skip the current content of files present at start with no recorded position.
    #[arg(long)]
    from_end: bool,

    /// Join continuation lines (indented, "Caused by:", "...") into the previous record.
    #[arg(long)]
    multiline: bool,

    /// Join lines not matching this regex into the previous record (implies --multiline).
    #[arg(long, value_name = "REGEX")]
    multiline_start: Option<regex::bytes::Regex>,

    /// Seconds after which a pending multi-line record is written if no line follows.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    multiline_timeout: f64,

    /// The most lines joined into one record.
    #[arg(long, default_value_t = 500)]
    multiline_max_lines: usize,

    /// The most files kept open at once; the least recently active are closed and reopened.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_open_files: u32,

    /// Seconds between looks at the files when polling.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    poll_interval: f64,

    /// Seconds between listings of the roots with change events (in case events are lost).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    rescan_interval: f64,

    /// Seconds without new data after which a file's handle is closed.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    idle_timeout: f64,

    /// Poll instead of using change events (network filesystems).
    #[arg(long)]
    poll: bool,

    /// Read what is there, print a summary on stderr and exit.
    #[arg(long)]
    once: bool,

    /// Only files of directories whose name matches one of these globs.
    #[arg(long = "glob", value_name = "GLOB")]
    globs: Vec<Glob>,

    /// Leave out files of directories whose name matches this glob.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<Glob>,

    /// The longest message kept from one line or multi-line event, in bytes (longer ones are cut).
    #[arg(long, default_value_t = 1 << 20)]
    max_line_bytes: usize,

    #[command(flatten)]
    common: CommonArgs,
}

fn time_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse()
        .map_err(|_| format!("unknown time zone {name:?} (use an IANA name such as Europe/Paris)"))
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| anyhow::anyhow!("{flag} must be a number of seconds, not {value}"))
}

impl Args {
    fn config(self) -> anyhow::Result<TailConfig> {
        let multiline = (self.multiline || self.multiline_start.is_some())
            .then(|| {
                anyhow::Ok(MultilineConfig {
                    start: self.multiline_start,
                    timeout: seconds(self.multiline_timeout, "--multiline-timeout")?,
                    max_lines: self.multiline_max_lines.max(1),
                    max_bytes: self.max_line_bytes.max(1),
                })
            })
            .transpose()?;
        Ok(TailConfig {
            paths: self.paths,
            include: self.globs,
            exclude: self.exclude,
            parser: ParserConfig {
                format: self.format,
                pattern: self.pattern,
                time_format: self.time_format,
                default_level: self.default_level,
                timezone: self.tz,
            },
            source: self.source.unwrap_or_else(tail::host_name),
            categories: CategoryRules {
                rules: self.category_rules,
                default: self.category,
            },
            lsn_dir: self.lsn_dir,
            commit: self.lsn_commit,
            from_end: self.from_end,
            multiline,
            max_open_files: self.max_open_files as usize,
            poll_interval: seconds(self.poll_interval, "--poll-interval")?,
            rescan_interval: seconds(self.rescan_interval, "--rescan-interval")?,
            idle_timeout: seconds(self.idle_timeout, "--idle-timeout")?,
            poll: self.poll,
            once: self.once,
            max_line: self.max_line_bytes.max(1),
        })
    }
}

/// Keeps the kernel from backing the allocator's memory with 2 MiB transparent huge pages (what
/// mimalloc's `allow_thp=0` option does): the encoding threads touch memory spread over its
/// arena, and huge pages tripled ls-tail's resident memory for no measurable speed.
fn without_huge_pages() {
    // SAFETY: prctl with integer arguments only reads them; on failure huge pages stay allowed.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    without_huge_pages();
    let args: Args = cli::parse();
    let common = args.common.clone();
    cli::run("ls-tail", &common, || {
        let shutdown = Shutdown::install()?;
        let once = args.once;
        let summary = tail::run(args.config()?, std::io::stdout().lock(), &shutdown)?;
        if once && !common.quiet {
            eprintln!("ls-tail: {summary}");
        } else {
            log::info!("{summary}");
        }
        Ok(ExitCode::SUCCESS)
    })
}
